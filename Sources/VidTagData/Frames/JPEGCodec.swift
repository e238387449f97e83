import CTurboJPEG
import Foundation
import Synchronization

/// A failure of the JPEG decoder or encoder (libjpeg-turbo's TurboJPEG 2.x API).
public struct JPEGError: Error, Sendable, CustomStringConvertible {
    /// What was being done when it failed.
    public enum Operation: String, Sendable {
        case readHeader = "reading the JPEG header"
        case decode = "decoding"
        case encode = "encoding"
        case createHandle = "creating a TurboJPEG handle"
    }

    /// What was being done.
    public let operation: Operation
    /// libjpeg-turbo's message, e.g. "Premature end of JPEG file".
    public let message: String
    /// True when libjpeg-turbo only warned (a damaged but partly decodable image, such as a truncated
    /// file); vidtag still treats such a frame as unreadable rather than use grey-filled pixels.
    public let isWarning: Bool

    public var description: String {
        let kind = isWarning ? "damaged JPEG" : "invalid JPEG"
        return "\(kind) while \(operation.rawValue): \(message)"
    }
}

/// The chroma subsampling of an encoded JPEG.
public enum JPEGSubsampling: Sendable, CaseIterable {
    /// Full-resolution chroma.
    case none444
    /// Chroma halved horizontally.
    case half422
    /// Chroma halved in both directions (PIL's default at quality < 95 and most video frames).
    case quarter420
    /// Luma only.
    case grayscale

    var turboJPEGValue: Int32 {
        switch self {
        case .none444: Int32(TJSAMP_444.rawValue)
        case .half422: Int32(TJSAMP_422.rawValue)
        case .quarter420: Int32(TJSAMP_420.rawValue)
        case .grayscale: Int32(TJSAMP_GRAY.rawValue)
        }
    }
}

/// JPEG decoding and encoding with libjpeg-turbo (the library PIL decodes with), safe to call from
/// any number of threads at once.
///
/// TurboJPEG handles are not thread safe, so each call borrows one from a small pool and returns it
/// afterwards (creating a decompressor costs about as much as decoding a thumbnail; see bench/frames.sh).
/// Decoding uses the accurate integer DCT and fancy upsampling, as PIL does, so a frame decoded at
/// scale 1 has the same bytes as `PIL.Image.open(...).convert("RGB")`.
public enum JPEG {
    /// The size of an encoded JPEG and its chroma subsampling, read from its header.
    public static func dimensions(of jpeg: some ContiguousBytes) throws(JPEGError) -> (width: Int, height: Int) {
        let header = try decoders.withHandle { handle throws(JPEGError) in try readHeader(jpeg, handle: handle) }
        return (header.width, header.height)
    }

    /// The DCT scaling factors (numerator, denominator) the installed libjpeg-turbo offers, largest first.
    public static let scalingFactors: [(numerator: Int, denominator: Int)] = {
        var count: Int32 = 0
        guard let factors = tjGetScalingFactors(&count) else { return [(1, 1)] }
        return (0..<Int(count)).map { (Int(factors[$0].num), Int(factors[$0].denom)) }
            .sorted { $0.numerator * $1.denominator > $1.numerator * $0.denominator }
    }()

    /// The size a `width` x `height` JPEG decodes to at the smallest DCT scale (at most 1) whose
    /// shorter side is still at least `minimumShorterSide`; the full size when no smaller scale keeps
    /// it, or when `minimumShorterSide` is nil. Sizes round up as libjpeg-turbo's `TJSCALED` does.
    public static func scaledSize(width: Int, height: Int, minimumShorterSide: Int?) -> (width: Int, height: Int) {
        guard let target = minimumShorterSide else { return (width, height) }
        var best = (width: width, height: height)
        for (numerator, denominator) in scalingFactors where numerator <= denominator {
            let scaled = (
                width: (width * numerator + denominator - 1) / denominator,
                height: (height * numerator + denominator - 1) / denominator)
            if min(scaled.width, scaled.height) >= target && scaled.width * scaled.height < best.width * best.height {
                best = scaled
            }
        }
        return best
    }

    /// The most pixels ``decode(_:minimumShorterSide:)`` produces: 2^26 (64 megapixels, 192 MiB of RGB),
    /// far above any video frame (8K is 33 megapixels) and far below the 65535 x 65535 a header can
    /// claim, so that a few bytes of damaged or hostile JPEG cannot make the reader allocate gigabytes.
    public static let maximumDecodedPixels = 1 << 26

    /// Decodes a JPEG to RGB8. With `minimumShorterSide`, libjpeg-turbo's DCT scaling decodes straight
    /// to the smallest scale whose shorter side is still at least that many pixels (much faster than
    /// decoding in full and resizing afterwards). Grayscale JPEGs decode to R = G = B.
    ///
    /// Any libjpeg-turbo warning (a truncated or corrupt stream that it would fill with grey) is thrown
    /// as a `JPEGError` with `isWarning` set.
    public static func decode(_ jpeg: some ContiguousBytes, minimumShorterSide: Int? = nil) throws(JPEGError) -> RGBImage {
        try decoders.withHandle { handle throws(JPEGError) in
            let header = try readHeader(jpeg, handle: handle)
            let size = scaledSize(width: header.width, height: header.height, minimumShorterSide: minimumShorterSide)
            guard size.width * size.height <= maximumDecodedPixels else {
                throw JPEGError(
                    operation: .readHeader,
                    message: "the header claims \(header.width)x\(header.height) pixels (\(size.width)x\(size.height) decoded), "
                        + "over the limit of \(maximumDecodedPixels) decoded pixels: a damaged or hostile file",
                    isWarning: false)
            }
            var pixels = [UInt8](repeating: 0, count: size.width * size.height * 3)
            let status = jpeg.withUnsafeBytes { source in
                pixels.withUnsafeMutableBufferPointer { target in
                    tjDecompress2(
                        handle.pointer, source.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt(source.count),
                        target.baseAddress, Int32(size.width), Int32(size.width * 3), Int32(size.height),
                        Int32(TJPF_RGB.rawValue), TJFLAG_ACCURATEDCT)
                }
            }
            if status != 0 { throw handle.error(.decode) }
            return RGBImage(width: size.width, height: size.height, pixels: pixels)
        }
    }

    /// Encodes an RGB8 image as a baseline JPEG at `quality` (1...100, as PIL's `quality`).
    public static func encode(
        _ image: RGBImage, quality: Int = 90, subsampling: JPEGSubsampling = .quarter420
    ) throws(JPEGError) -> Data {
        precondition((1...100).contains(quality), "JPEG.encode: quality \(quality) is outside 1...100")
        return try encoders.withHandle { handle throws(JPEGError) in
            var output: UnsafeMutablePointer<UInt8>? = nil
            var outputSize: UInt = 0
            defer { if let output { tjFree(output) } }
            let status = image.pixels.withUnsafeBufferPointer { source in
                tjCompress2(
                    handle.pointer, source.baseAddress, Int32(image.width), Int32(image.width * 3), Int32(image.height),
                    Int32(TJPF_RGB.rawValue), &output, &outputSize, subsampling.turboJPEGValue, Int32(quality),
                    TJFLAG_ACCURATEDCT)
            }
            guard status == 0, let output else { throw handle.error(.encode) }
            return Data(bytes: output, count: Int(outputSize))
        }
    }

    private static func readHeader(
        _ jpeg: some ContiguousBytes, handle: TurboJPEGHandle
    ) throws(JPEGError) -> (width: Int, height: Int) {
        var width: Int32 = 0
        var height: Int32 = 0
        var subsampling: Int32 = 0
        var colorspace: Int32 = 0
        let status = jpeg.withUnsafeBytes { source in
            tjDecompressHeader3(
                handle.pointer, source.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt(source.count),
                &width, &height, &subsampling, &colorspace)
        }
        if status != 0 { throw handle.error(.readHeader) }
        return (Int(width), Int(height))
    }

    static let decoders = TurboJPEGHandlePool(kind: .decompressor)
    static let encoders = TurboJPEGHandlePool(kind: .compressor)
}

/// One TurboJPEG handle. Not thread safe by itself: the pool lends it to one thread at a time.
final class TurboJPEGHandle: @unchecked Sendable {
    enum Kind { case compressor, decompressor }

    let pointer: tjhandle

    init(kind: Kind) throws(JPEGError) {
        let created = kind == .compressor ? tjInitCompress() : tjInitDecompress()
        guard let created else {
            throw JPEGError(operation: .createHandle, message: String(cString: tjGetErrorStr2(nil)), isWarning: false)
        }
        pointer = created
    }

    deinit { tjDestroy(pointer) }

    func error(_ operation: JPEGError.Operation) -> JPEGError {
        JPEGError(
            operation: operation, message: String(cString: tjGetErrorStr2(pointer)),
            isWarning: tjGetErrorCode(pointer) == Int32(TJERR_WARNING.rawValue))
    }
}

/// Idle TurboJPEG handles of one kind. A call takes one (or creates one when none is idle) and puts
/// it back when done, keeping at most `maximumIdle`.
final class TurboJPEGHandlePool: Sendable {
    private let kind: TurboJPEGHandle.Kind
    private let idle = Mutex<[TurboJPEGHandle]>([])
    private let maximumIdle: Int

    init(kind: TurboJPEGHandle.Kind, maximumIdle: Int = max(4, ProcessInfo.processInfo.activeProcessorCount * 2)) {
        self.kind = kind
        self.maximumIdle = maximumIdle
    }

    func withHandle<Result>(_ body: (TurboJPEGHandle) throws(JPEGError) -> Result) throws(JPEGError) -> Result {
        let handle: TurboJPEGHandle
        if let reused = idle.withLock({ $0.popLast() }) {
            handle = reused
        } else {
            handle = try TurboJPEGHandle(kind: kind)
        }
        // A handle whose call failed is dropped, never reused: after some errors (a bad Huffman table in
        // a header) libjpeg-turbo leaves it in a state where every later decode fails too.
        let result = try body(handle)
        idle.withLock { handles in
            if handles.count < maximumIdle { handles.append(handle) }
        }
        return result
    }
}
