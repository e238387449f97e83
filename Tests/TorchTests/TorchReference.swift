import Foundation
import Testing

@testable import Torch

/// Where the engine tests find committed fixtures (written by scripts/fixtures/make_torch_fixtures.py).
enum TorchFixtureFiles {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let folder = repository.appendingPathComponent("Tests/Fixtures/torch")

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-torch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// The PyTorch reference values of `Tests/Fixtures/torch/reference.json`.
struct TorchReference: Decodable, Sendable {
    struct RandomDraws: Decodable, Sendable {
        let seed: UInt64
        let randn_f32_2x3: [Double]
        let randn_f64_5: [Double]
        let rand_f32_4: [Double]
        let randint_0_10_8: [Int64]
        let randperm_6: [Int64]
    }
    struct CrossEntropyCase: Decodable, Sendable {
        let target: String
        let reduction: String
        let weighted: Bool
        let label_smoothing: Double
        let ignore_index: Int
        let value: [Double]
    }
    struct KLDivCase: Decodable, Sendable {
        let reduction: String
        let log_target: Bool
        let value: [Double]
    }
    struct Losses: Decodable, Sendable {
        let logits: [Double]
        let logits_shape: [Int]
        let targets: [Int64]
        let targets_ignore_3: [Int64]
        let class_weights: [Double]
        let probability_targets: [Double]
        let cross_entropy: [CrossEntropyCase]
        let kl_div: [KLDivCase]
        let bce_with_logits_mean: Double
    }
    struct InterpolationCase: Decodable, Sendable {
        let mode: String
        let align_corners: Bool
        let value: [Double]
    }
    struct Interpolation: Decodable, Sendable {
        let input: [Double]
        let input_shape: [Int]
        let size: [Int]
        let cases: [InterpolationCase]
        let antialias_input: [Double]
        let antialias_bilinear_3x3: [Double]
    }
    struct Convolution: Decodable, Sendable {
        let input: [Double]
        let input_shape: [Int]
        let weight: [Double]
        let weight_shape: [Int]
        let bias: [Double]
        let grouped_weight: [Double]
        let grouped_weight_shape: [Int]
        let stride1_pad1: [Double]
        let stride2_pad0_dilation1: [Double]
        let dilation2_pad2: [Double]
        let groups2: [Double]
    }
    struct AdamWGroup: Decodable, Sendable {
        let name: String
        let keys: [String]
        let lr: Double
        let weight_decay: Double
    }
    struct AdamWStep: Decodable, Sendable {
        let loss: Double
        let parameters: [String: [Double]]
    }
    struct AdamWReference: Decodable, Sendable {
        let `init`: [String: [Double]]
        let shapes: [String: [Int]]
        let x: [Double]
        let y: [Double]
        let groups: [AdamWGroup]
        let betas: [Double]
        let eps: Double
        let constant: [AdamWStep]
        let cosine_warmup_2_total_5: [AdamWStep]
    }
    struct ClipCase: Decodable, Sendable {
        let max_norm: Double
        let norm_type: NormType
        let grads: [[Double]]
        let total_norm: Double
        let clipped: [[Double]]
    }
    /// A norm order written as a number or as "inf".
    struct NormType: Decodable, Sendable {
        let value: Double
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Double.self) {
                value = number
            } else {
                let text = try container.decode(String.self)
                guard let number = Double(text) else {
                    throw DecodingError.dataCorruptedError(in: container, debugDescription: "norm type \(text)")
                }
                value = number
            }
        }
    }
    struct ScheduleCase: Decodable, Sendable {
        let decay: String
        let warmup: Int
        let total: Int
        let steps: [Int]
        let multipliers: [Double]
    }
    struct SafeTensorsTensor: Decodable, Sendable {
        let dtype: String
        let shape: [Int]
        let values: [Double]
        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            dtype = try container.decode(String.self, forKey: .dtype)
            shape = try container.decode([Int].self, forKey: .shape)
            if dtype == "bool" {
                values = try container.decode([Bool].self, forKey: .values).map { $0 ? 1 : 0 }
            } else {
                values = try container.decode([Double].self, forKey: .values)
            }
        }
        enum CodingKeys: String, CodingKey { case dtype, shape, values }
    }
    struct SafeTensorsReference: Decodable, Sendable {
        let metadata: [String: String]
        let tensors: [String: SafeTensorsTensor]
    }

    let random: RandomDraws
    let losses: Losses
    let interpolation: Interpolation
    let convolution: Convolution
    let adamw: AdamWReference
    let clip_grad_norm: [ClipCase]
    let schedules: [ScheduleCase]
    let safetensors: SafeTensorsReference

    /// reference.json, read once; a missing or unreadable file fails each test that needs it with this reason.
    static let loaded = Result { () throws -> TorchReference in
        let url = TorchFixtureFiles.folder.appendingPathComponent("reference.json")
        do {
            return try JSONDecoder().decode(TorchReference.self, from: Data(contentsOf: url))
        } catch {
            throw TorchFixtureError("cannot read \(url.path): \(error); regenerate with scripts/fixtures/make_torch_fixtures.py")
        }
    }

    static var shared: TorchReference { get throws { try loaded.get() } }

    /// The case numbers of a parameterised test (none when the file cannot be read: `referenceLoads` fails then).
    static func indices<Case>(_ cases: KeyPath<TorchReference, [Case]>) -> Range<Int> {
        (try? loaded.get()[keyPath: cases].indices) ?? 0..<0
    }
}

/// A reference fixture that could not be read.
struct TorchFixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite("PyTorch reference fixture")
struct TorchReferenceFileTests {
    @Test func referenceLoads() throws {
        _ = try TorchReference.shared
    }
}

/// Expects `actual` to equal `expected` element by element within `tolerance` (absolute plus relative to the
/// expected magnitude); names the first differing element.
func expectClose(
    _ actual: [Double], _ expected: [Double], tolerance: Double = 1e-6, _ what: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    for (index, (a, e)) in zip(actual, expected).enumerated() {
        let close = a == e || Swift.abs(a - e) <= tolerance * (1 + Swift.abs(e))
        if !close {
            Issue.record(
                "\(what): element \(index) is \(a), expected \(e) (tolerance \(tolerance)); all: \(actual) vs \(expected)",
                sourceLocation: sourceLocation)
            return
        }
    }
}

/// Expects a tensor's values (as Double), and optionally its shape, to match.
func expectValues(
    _ tensor: Tensor, _ expected: [Double], shape: [Int]? = nil, tolerance: Double = 1e-6, _ what: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    if let shape {
        #expect(tensor.shape == shape, "\(what): shape", sourceLocation: sourceLocation)
    }
    expectClose(tensor.toArray(Double.self), expected, tolerance: tolerance, what, sourceLocation: sourceLocation)
}

/// A float64 tensor (most hand-computed checks use f64 so that the expected values are exact).
func f64(_ values: [Double], _ shape: [Int]? = nil) -> Tensor { Tensor(values, shape: shape) }
