import Foundation
import FuzzSupport
import VidTagTraining

let scratch = ScratchFile(name: "config.json")

/// Input: a run config file, resolved over the defaults and validated as `vidtag train --config` does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    scratch.write(bytes, count)
    _ = try? RunConfig.resolve(file: scratch.url)
    return 0
}
