import Foundation
import VidTagData

/// The fixed map from a frame to its feature vector in the demo's `zip_feats`: the frame's 28 x 28 grey
/// canvas `x` (values / 255, before upscaling and JPEG) times a Gaussian matrix `W` [dimension, 784]
/// with entries N(0, 0.1²) drawn once from SplitMix64 seeded with ``projectionSeed`` (Box–Muller), then
/// `tanh`: `feature = tanh(W x)`. It does not depend on the data set's seed, so features of two demo
/// builds are comparable.
struct DemoFeatureProjection: Sendable {
    static let projectionSeed: UInt64 = 0x7669_6474_6167_0768
    static let standardDeviation: Float = 0.1

    let dimension: Int
    /// `[784][dimension]`: row `pixel` holds column `pixel` of `W`, so that zero pixels are skipped.
    private let weightsByPixel: [Float]

    init(dimension: Int) {
        self.dimension = dimension
        let inputs = DemoMaterial.digitSide * DemoMaterial.digitSide
        var generator = SplitMix64(seed: Self.projectionSeed)
        var weights = [Float](repeating: 0, count: inputs * dimension)
        // W is drawn row by row ([output][pixel]) and stored transposed.
        var spare: Double?
        for output in 0..<dimension {
            for pixel in 0..<inputs {
                let normal: Double
                if let pending = spare {
                    normal = pending
                    spare = nil
                } else {
                    let u1 = (Double(generator.next() >> 11) + 1) * 0x1p-53
                    let u2 = Double(generator.next() >> 11) * 0x1p-53
                    let radius = (-2 * log(u1)).squareRoot()
                    normal = radius * cos(2 * Double.pi * u2)
                    spare = radius * sin(2 * Double.pi * u2)
                }
                weights[pixel * dimension + output] = Float(normal) * Self.standardDeviation
            }
        }
        weightsByPixel = weights
    }

    /// `tanh(W x)` of one 28 x 28 grey canvas, appended to `features`.
    func project(canvas: [UInt8], appendingTo features: inout [Float]) {
        var sums = [Float](repeating: 0, count: dimension)
        weightsByPixel.withUnsafeBufferPointer { weights in
            sums.withUnsafeMutableBufferPointer { sums in
                for (pixel, value) in canvas.enumerated() where value != 0 {
                    let scale = Float(value) / 255
                    let row = weights.baseAddress! + pixel * dimension
                    for output in 0..<dimension { sums[output] += scale * row[output] }
                }
            }
        }
        features.append(contentsOf: sums.lazy.map { tanh($0) })
    }
}
