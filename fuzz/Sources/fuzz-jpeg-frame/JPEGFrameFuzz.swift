import Foundation
import FuzzSupport
import VidTagData

let preprocessing = FramePreprocessing.clip(size: 32)

/// Input: one frame's JPEG bytes. Decoded as the frame reader does (scaled down by the DCT when large, and
/// in full as with `decodeWithDCTScaling` off), then resized, cropped and normalised for evaluation and
/// for training.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEGFrame(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let data = fuzzInput(bytes, count)
    _ = try? JPEG.dimensions(of: data)
    for minimumShorterSide in [preprocessing.decodeMinimumShorterSide, nil] {
        guard let image = try? JPEG.decode(data, minimumShorterSide: minimumShorterSide) else { continue }
        _ = preprocessing.evaluationFrame(image)
        var generator = FixedSeedGenerator(state: UInt64(count))
        _ = preprocessing.trainingFrame(image, using: &generator)
    }
    return 0
}
