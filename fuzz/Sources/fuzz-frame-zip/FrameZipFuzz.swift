import Foundation
import FuzzSupport
import VidTagData

/// Where the frame reader looks for video `fuzz001`: `{frames}/001/fuzz001.zip`.
let scratch = ScratchFile(name: "frames/001/fuzz001.zip")
let reader = VideoFrameReader(
    framesDirectory: scratch.folder.appendingPathComponent("frames"), maxFrames: 4, preprocessing: .clip(size: 32))

/// Input: one video's frame zip (ZIPFoundation reads it, libjpeg-turbo decodes its members). The reader
/// never throws; every problem must end up as an issue in the clip.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameZip(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    scratch.write(bytes, count)
    _ = reader.evaluationClip(videoID: "fuzz001")
    var generator = FixedSeedGenerator(state: UInt64(count))
    _ = reader.trainingClip(videoID: "fuzz001", using: &generator)
    return 0
}
