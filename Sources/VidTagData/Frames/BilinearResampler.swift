/// Antialiased bilinear resizing of `RGBImage`s, bit for bit PIL's `Image.resize(size, BILINEAR)`
/// (Pillow's `Resample.c`: a triangle filter widened by the scale when shrinking, 22-bit fixed-point
/// weights, a horizontal pass then a vertical pass, each rounded to 8 bits). torchvision's `Resize`
/// on PIL images calls exactly this; on tensors (`antialias=True`) it differs by at most a step or
/// two of 1/255 because it keeps floats between the passes.
public enum BilinearResampler {
    /// `image` resized to `width` x `height`.
    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        resize(image, width: width, height: height, keeping: PixelRegion(left: 0, top: 0, width: width, height: height))
    }

    /// The `window` of `image` resized to `width` x `height`, computing only the window's pixels: the
    /// same bytes as resizing in full and cropping afterwards. Parts of the window outside the resized
    /// image are black.
    public static func resize(_ image: RGBImage, width: Int, height: Int, keeping window: PixelRegion) -> RGBImage {
        resize(image, source: PixelRegion(left: 0, top: 0, width: image.width, height: image.height),
               width: width, height: height, keeping: window)
    }

    /// The `source` region of `image` (inside it) cropped, then resized to `width` x `height`
    /// (torchvision's `resized_crop`: pixels outside the region never bleed in).
    public static func resize(_ image: RGBImage, source: PixelRegion, width: Int, height: Int) -> RGBImage {
        resize(image, source: source, width: width, height: height,
               keeping: PixelRegion(left: 0, top: 0, width: width, height: height))
    }

    static func resize(
        _ image: RGBImage, source: PixelRegion, width: Int, height: Int, keeping window: PixelRegion
    ) -> RGBImage {
        precondition(width > 0 && height > 0, "BilinearResampler: output size \(width)x\(height) must be positive")
        precondition(
            source.left >= 0 && source.top >= 0 && source.width > 0 && source.height > 0
                && source.left + source.width <= image.width && source.top + source.height <= image.height,
            "BilinearResampler: source region \(source) must lie inside the \(image.width)x\(image.height) image")
        let inside = PixelRegion(
            left: max(window.left, 0), top: max(window.top, 0),
            width: min(window.left + window.width, width) - max(window.left, 0),
            height: min(window.top + window.height, height) - max(window.top, 0))
        guard inside.width > 0 && inside.height > 0 else {
            return RGBImage(width: window.width, height: window.height)
        }
        let horizontal = FilterWeights(inputSize: source.width, outputSize: width, outputRange: inside.left..<(inside.left + inside.width))
        let vertical = FilterWeights(inputSize: source.height, outputSize: height, outputRange: inside.top..<(inside.top + inside.height))

        let firstRow = vertical.starts.min()!
        let rowCount = zip(vertical.starts, vertical.counts).map { $0 + $1 }.max()! - firstRow
        var rows = [UInt8](repeating: 0, count: rowCount * inside.width * 3)
        var result = [UInt8](repeating: 0, count: inside.width * inside.height * 3)
        image.pixels.withUnsafeBufferPointer { input in
            rows.withUnsafeMutableBufferPointer { intermediate in
                for row in 0..<rowCount {
                    let sourceRow = input.baseAddress! + ((source.top + firstRow + row) * image.width + source.left) * 3
                    let targetRow = intermediate.baseAddress! + row * inside.width * 3
                    horizontal.apply(to: sourceRow, stride: 3, writingTo: targetRow, outputStride: 3)
                }
            }
            rows.withUnsafeBufferPointer { intermediate in
                result.withUnsafeMutableBufferPointer { output in
                    let rowBytes = inside.width * 3
                    let accumulator = UnsafeMutableBufferPointer<Int32>.allocate(capacity: rowBytes)
                    defer { accumulator.deallocate() }
                    for y in 0..<inside.height {
                        vertical.applyVertically(
                            outputIndex: y, rows: intermediate.baseAddress! - firstRow * rowBytes, rowBytes: rowBytes,
                            accumulator: accumulator, writingTo: output.baseAddress! + y * rowBytes)
                    }
                }
            }
        }
        let resized = RGBImage(width: inside.width, height: inside.height, pixels: result)
        if inside == window { return resized }
        return resized.cropped(to: PixelRegion(
            left: window.left - inside.left, top: window.top - inside.top, width: window.width, height: window.height))
    }
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear filter, for the output
/// positions in `outputRange` only.
struct FilterWeights {
    static let precisionBits = 22
    let starts: [Int]
    let counts: [Int]
    let kernelSize: Int
    let weights: [Int32]

    init(inputSize: Int, outputSize: Int, outputRange: Range<Int>) {
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1.0)
        let support = 1.0 * filterScale
        kernelSize = Int(support.rounded(.up)) * 2 + 1
        var starts: [Int] = []
        var counts: [Int] = []
        var weights = [Int32](repeating: 0, count: outputRange.count * kernelSize)
        var raw = [Double](repeating: 0, count: kernelSize)
        for (slot, position) in outputRange.enumerated() {
            let center = (Double(position) + 0.5) * scale
            let inverseScale = 1.0 / filterScale
            let first = max(Int(center - support + 0.5), 0)
            let count = min(Int(center + support + 0.5), inputSize) - first
            var total = 0.0
            for tap in 0..<count {
                let distance = abs((Double(tap + first) - center + 0.5) * inverseScale)
                raw[tap] = distance < 1.0 ? 1.0 - distance : 0.0
                total += raw[tap]
            }
            for tap in 0..<count {
                let normalized = total != 0.0 ? raw[tap] / total : raw[tap]
                let fixed = normalized * Double(1 << Self.precisionBits)
                weights[slot * kernelSize + tap] = Int32(fixed < 0 ? -0.5 + fixed : 0.5 + fixed)
            }
            starts.append(first)
            counts.append(count)
        }
        self.starts = starts
        self.counts = counts
        self.weights = weights
    }

    @inline(__always)
    static func clip8(_ sum: Int32) -> UInt8 {
        if sum >= Int32((1 << precisionBits) << 8) { return 255 }
        if sum <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: sum >> Int32(precisionBits))
    }

    /// One row: `source` points at the row's first RGB pixel.
    func apply(to source: UnsafePointer<UInt8>, stride: Int, writingTo target: UnsafeMutablePointer<UInt8>, outputStride: Int) {
        let half = Int32(1 << (Self.precisionBits - 1))
        weights.withUnsafeBufferPointer { weights in
            starts.withUnsafeBufferPointer { starts in
                counts.withUnsafeBufferPointer { counts in
                    for slot in 0..<starts.count {
                        let kernel = weights.baseAddress! + slot * kernelSize
                        var red = half, green = half, blue = half
                        var pixel = source + starts[slot] * stride
                        for tap in 0..<counts[slot] {
                            let weight = kernel[tap]
                            red &+= Int32(pixel[0]) &* weight
                            green &+= Int32(pixel[1]) &* weight
                            blue &+= Int32(pixel[2]) &* weight
                            pixel += stride
                        }
                        let out = target + slot * outputStride
                        out[0] = Self.clip8(red)
                        out[1] = Self.clip8(green)
                        out[2] = Self.clip8(blue)
                    }
                }
            }
        }
    }

    /// Output row `outputIndex` from the rows of the horizontal pass (`rows` addresses source row 0),
    /// accumulated a whole row per tap so that the inner loop vectorises.
    func applyVertically(
        outputIndex: Int, rows: UnsafePointer<UInt8>, rowBytes: Int, accumulator: UnsafeMutableBufferPointer<Int32>,
        writingTo target: UnsafeMutablePointer<UInt8>
    ) {
        let first = starts[outputIndex]
        let count = counts[outputIndex]
        let sums = accumulator.baseAddress!
        sums.update(repeating: Int32(1 << (Self.precisionBits - 1)), count: rowBytes)
        weights.withUnsafeBufferPointer { weights in
            let kernel = weights.baseAddress! + outputIndex * kernelSize
            for tap in 0..<count {
                let weight = kernel[tap]
                let row = rows + (first + tap) * rowBytes
                for byte in 0..<rowBytes {
                    sums[byte] &+= Int32(row[byte]) &* weight
                }
            }
        }
        for byte in 0..<rowBytes {
            target[byte] = Self.clip8(sums[byte])
        }
    }
}
