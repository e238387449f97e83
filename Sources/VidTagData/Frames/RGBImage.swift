/// An 8-bit RGB image, rows top to bottom, pixels interleaved (`[height, width, 3]`, HWC), as decoded
/// from a JPEG frame and as PIL holds an `RGB` image.
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// `height * width * 3` bytes: R, G, B of pixel (y, x) at `(y * width + x) * 3`.
    public var pixels: [UInt8]

    /// An image over `pixels`, which must hold exactly `height * width * 3` bytes.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "RGBImage: negative size \(width)x\(height)")
        precondition(
            pixels.count == width * height * 3,
            "RGBImage: \(pixels.count) bytes for \(width)x\(height)x3 = \(width * height * 3)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image of the given size with every byte set to `value`.
    public init(width: Int, height: Int, repeating value: UInt8 = 0) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: value, count: width * height * 3))
    }

    /// The (R, G, B) of the pixel at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let offset = (y * width + x) * 3
        return (pixels[offset], pixels[offset + 1], pixels[offset + 2])
    }

    /// The image mirrored left to right (torchvision's `hflip`).
    public func flippedHorizontally() -> RGBImage {
        var flipped = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { source in
            flipped.withUnsafeMutableBufferPointer { target in
                for y in 0..<height {
                    let row = y * width * 3
                    for x in 0..<width {
                        let from = row + x * 3
                        let to = row + (width - 1 - x) * 3
                        target[to] = source[from]
                        target[to + 1] = source[from + 1]
                        target[to + 2] = source[from + 2]
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: flipped)
    }

    /// The `region` of the image; parts of the region outside the image are black, as torchvision's
    /// `crop` pads them.
    public func cropped(to region: PixelRegion) -> RGBImage {
        var out = [UInt8](repeating: 0, count: region.width * region.height * 3)
        let xStart = max(region.left, 0)
        let xEnd = min(region.left + region.width, width)
        guard xStart < xEnd else { return RGBImage(width: region.width, height: region.height, pixels: out) }
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for outY in 0..<region.height {
                    let y = region.top + outY
                    guard y >= 0 && y < height else { continue }
                    let from = (y * width + xStart) * 3
                    let to = (outY * region.width + (xStart - region.left)) * 3
                    let count = (xEnd - xStart) * 3
                    target.baseAddress!.advanced(by: to)
                        .update(from: source.baseAddress!.advanced(by: from), count: count)
                }
            }
        }
        return RGBImage(width: region.width, height: region.height, pixels: out)
    }
}

/// A rectangle of pixels: `left`/`top` of its first column/row, and its size. It may reach outside
/// an image (for crops larger than the image).
public struct PixelRegion: Sendable, Equatable, CustomStringConvertible {
    /// First column.
    public var left: Int
    /// First row.
    public var top: Int
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int

    /// A region of `width` x `height` pixels whose top-left pixel is (`left`, `top`).
    public init(left: Int, top: Int, width: Int, height: Int) {
        self.left = left
        self.top = top
        self.width = width
        self.height = height
    }

    public var description: String { "\(width)x\(height)+\(left)+\(top)" }
}
