import Foundation

/// Per-channel mean and standard deviation that frames are normalised with: `(pixel / 255 - mean) / std`,
/// in Float, as torchvision's `ToTensor` + `Normalize`. The frame encoder's config provides them.
public struct FrameNormalization: Sendable, Equatable, Codable {
    /// Mean of R, G, B in 0...1.
    public var mean: [Float]
    /// Standard deviation of R, G, B in 0...1.
    public var std: [Float]

    /// Normalisation by `mean` and `std`, three values each, every `std` above zero.
    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == 3 && std.count == 3, "FrameNormalization: mean \(mean) and std \(std) need 3 values each (R, G, B)")
        precondition(std.allSatisfy { $0 > 0 }, "FrameNormalization: std \(std) must be above zero")
        self.mean = mean
        self.std = std
    }

    /// OpenAI CLIP's image statistics.
    public static let clip = FrameNormalization(mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711])
    /// ImageNet's statistics (torchvision, Swin).
    public static let imageNet = FrameNormalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    /// The normalised value of each byte, per channel: `table[channel * 256 + byte]`.
    func lookupTable() -> [Float] {
        (0..<3).flatMap { channel in
            (0..<256).map { byte in (Float(byte) / 255 - mean[channel]) / std[channel] }
        }
    }
}

/// Training-time augmentation: torchvision's `RandomResizedCrop(size, scale, ratio)` followed by
/// `RandomHorizontalFlip(p)`, drawn independently for every frame.
public struct FrameAugmentation: Sendable, Equatable, Codable {
    /// Range of the crop's area as a fraction of the image's area.
    public var scale: ClosedRange<Double>
    /// Range of the crop's aspect ratio (width / height); drawn uniformly in log space.
    public var ratio: ClosedRange<Double>
    /// Probability of mirroring the frame left to right.
    public var horizontalFlipProbability: Double

    /// torchvision's defaults: scale 0.08...1, ratio 3/4...4/3, flip with probability 0.5.
    public init(scale: ClosedRange<Double> = 0.08...1.0, ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0),
                horizontalFlipProbability: Double = 0.5) {
        precondition(scale.lowerBound > 0, "FrameAugmentation: scale \(scale) must be above zero")
        precondition(ratio.lowerBound > 0, "FrameAugmentation: ratio \(ratio) must be above zero")
        self.scale = scale
        self.ratio = ratio
        self.horizontalFlipProbability = horizontalFlipProbability
    }

    /// torchvision's `RandomResizedCrop.get_params`: up to ten draws of an area fraction and a
    /// log-uniform aspect ratio, sides rounded half to even (Python's `round`), the first that fits
    /// placed uniformly; otherwise the largest centred crop within the ratio range.
    public func cropRegion<Generator: RandomNumberGenerator>(
        width: Int, height: Int, using generator: inout Generator
    ) -> PixelRegion {
        let area = Double(width * height)
        let logRatio = log(ratio.lowerBound)...log(ratio.upperBound)
        for _ in 0..<10 {
            let targetArea = area * Double.random(in: scale, using: &generator)
            let aspectRatio = exp(Double.random(in: logRatio, using: &generator))
            let cropWidth = Int((targetArea * aspectRatio).squareRoot().rounded(.toNearestOrEven))
            let cropHeight = Int((targetArea / aspectRatio).squareRoot().rounded(.toNearestOrEven))
            if cropWidth > 0 && cropWidth <= width && cropHeight > 0 && cropHeight <= height {
                let top = Int.random(in: 0...(height - cropHeight), using: &generator)
                let left = Int.random(in: 0...(width - cropWidth), using: &generator)
                return PixelRegion(left: left, top: top, width: cropWidth, height: cropHeight)
            }
        }
        let inputRatio = Double(width) / Double(height)
        var cropWidth = width
        var cropHeight = height
        if inputRatio < ratio.lowerBound {
            cropHeight = Int((Double(cropWidth) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inputRatio > ratio.upperBound {
            cropWidth = Int((Double(cropHeight) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return PixelRegion(left: (width - cropWidth) / 2, top: (height - cropHeight) / 2, width: cropWidth, height: cropHeight)
    }
}

/// How a decoded frame becomes model input: a Float `[3, cropHeight, cropWidth]` (CHW) normalised
/// image.
///
/// Evaluation: resize the shorter side to `resizeShorterSide` (the longer side to
/// `Int(resizeShorterSide * longer / shorter)`, truncated, as torchvision), antialiased bilinear, then
/// the centre `cropHeight` x `cropWidth` (offsets rounded half to even, as torchvision's `CenterCrop`).
/// Training: `augmentation`'s random resized crop to `cropHeight` x `cropWidth`, then a random flip.
/// With `decodeWithDCTScaling`, JPEGs are decoded at the smallest DCT scale whose shorter side is still
/// at least `resizeShorterSide`, which is faster and differs from decoding in full by a few levels.
public struct FramePreprocessing: Sendable, Equatable, Codable {
    /// Target of the shorter side before the centre crop (evaluation) and the floor of the decoded size.
    public var resizeShorterSide: Int
    /// Height of the model input.
    public var cropHeight: Int
    /// Width of the model input.
    public var cropWidth: Int
    /// Channel statistics of the frame encoder.
    public var normalization: FrameNormalization
    /// Random crop and flip settings used in training.
    public var augmentation: FrameAugmentation
    /// Decode at a reduced DCT scale when the frame is much larger than needed.
    public var decodeWithDCTScaling: Bool

    /// Settings of a frame encoder taking `cropHeight` x `cropWidth` input.
    public init(
        resizeShorterSide: Int, cropHeight: Int, cropWidth: Int, normalization: FrameNormalization,
        augmentation: FrameAugmentation = FrameAugmentation(), decodeWithDCTScaling: Bool = true
    ) {
        precondition(resizeShorterSide > 0 && cropHeight > 0 && cropWidth > 0,
                     "FramePreprocessing: sizes must be positive (resize \(resizeShorterSide), crop \(cropWidth)x\(cropHeight))")
        self.resizeShorterSide = resizeShorterSide
        self.cropHeight = cropHeight
        self.cropWidth = cropWidth
        self.normalization = normalization
        self.augmentation = augmentation
        self.decodeWithDCTScaling = decodeWithDCTScaling
    }

    /// CLIP's preprocessing at `size` (resize to `size`, centre crop `size` x `size`).
    public static func clip(size: Int = 224) -> FramePreprocessing {
        FramePreprocessing(resizeShorterSide: size, cropHeight: size, cropWidth: size, normalization: .clip)
    }

    /// The challenge baseline's preprocessing: resize to 256, centre crop 224, ImageNet statistics.
    public static let imageNet = FramePreprocessing(resizeShorterSide: 256, cropHeight: 224, cropWidth: 224, normalization: .imageNet)

    /// Number of Floats in one preprocessed frame: `3 * cropHeight * cropWidth`.
    public var valuesPerFrame: Int { 3 * cropHeight * cropWidth }

    /// The shorter side that JPEG decoding may scale down to, or nil to decode in full.
    public var decodeMinimumShorterSide: Int? { decodeWithDCTScaling ? resizeShorterSide : nil }

    /// The size torchvision's `Resize(resizeShorterSide)` gives a `width` x `height` image.
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        if width <= height {
            return (resizeShorterSide, Int(Double(resizeShorterSide) * Double(height) / Double(width)))
        }
        return (Int(Double(resizeShorterSide) * Double(width) / Double(height)), resizeShorterSide)
    }

    /// Resize + centre crop of a decoded frame, as RGB8 (before normalisation).
    public func evaluationImage(_ image: RGBImage) -> RGBImage {
        let resized = resizedSize(width: image.width, height: image.height)
        let window = PixelRegion(
            left: Int((Double(resized.width - cropWidth) / 2).rounded(.toNearestOrEven)),
            top: Int((Double(resized.height - cropHeight) / 2).rounded(.toNearestOrEven)),
            width: cropWidth, height: cropHeight)
        if resized.width == image.width && resized.height == image.height {
            return image.cropped(to: window)
        }
        return BilinearResampler.resize(image, width: resized.width, height: resized.height, keeping: window)
    }

    /// Random resized crop + random flip of a decoded frame, as RGB8 (before normalisation).
    public func trainingImage<Generator: RandomNumberGenerator>(_ image: RGBImage, using generator: inout Generator) -> RGBImage {
        let region = augmentation.cropRegion(width: image.width, height: image.height, using: &generator)
        let resized = BilinearResampler.resize(image, source: region, width: cropWidth, height: cropHeight)
        let flip = Double.random(in: 0..<1, using: &generator) < augmentation.horizontalFlipProbability
        return flip ? resized.flippedHorizontally() : resized
    }

    /// The evaluation input of a frame: `[3, cropHeight, cropWidth]` Floats.
    public func evaluationFrame(_ image: RGBImage) -> [Float] {
        normalized(evaluationImage(image))
    }

    /// The training input of a frame: `[3, cropHeight, cropWidth]` Floats.
    public func trainingFrame<Generator: RandomNumberGenerator>(_ image: RGBImage, using generator: inout Generator) -> [Float] {
        normalized(trainingImage(image, using: &generator))
    }

    /// `image` (already `cropWidth` x `cropHeight`) as normalised CHW Floats.
    public func normalized(_ image: RGBImage) -> [Float] {
        [Float](unsafeUninitializedCapacity: 3 * image.width * image.height) { buffer, count in
            writeNormalized(image, table: normalization.lookupTable(), into: buffer)
            count = 3 * image.width * image.height
        }
    }

    func writeNormalized(_ image: RGBImage, table: [Float], into target: UnsafeMutableBufferPointer<Float>) {
        let plane = image.width * image.height
        precondition(target.count >= 3 * plane, "FramePreprocessing: output buffer too small")
        image.pixels.withUnsafeBufferPointer { pixels in
            table.withUnsafeBufferPointer { table in
                for index in 0..<plane {
                    target[index] = table[Int(pixels[index * 3])]
                    target[plane + index] = table[256 + Int(pixels[index * 3 + 1])]
                    target[2 * plane + index] = table[512 + Int(pixels[index * 3 + 2])]
                }
            }
        }
    }
}
