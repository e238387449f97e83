import Foundation
import FuzzSupport
import VidTagData

let scratch = ScratchFile(name: "annotations.json")

/// Input: a whole annotation file (one JSON array of records). Read with the smallest read buffer so
/// that records straddle buffer refills, once skipping bad records and once stopping at the first.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAnnotations(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    scratch.write(bytes, count)
    _ = try? AnnotationReader(url: scratch.url, policy: .skip, requireCategory: false, bufferSize: 16).readAll()
    _ = try? AnnotationReader(url: scratch.url, policy: .stop, requireCategory: true, bufferSize: 1 << 20).readAll()
    return 0
}
