import Foundation
import FuzzSupport
import VidTagData

/// Input: a whole `.npy` file, as one member of a feature zip holds it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNpy(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let data = fuzzInput(bytes, count)
    _ = try? data.withUnsafeBytes { try Npy.parseHeader($0, source: "fuzz-input.npy") }
    _ = try? Npy.decodeMatrix(data, source: "fuzz-input.npy", nonFinite: .replaceWithZero)
    _ = try? Npy.decodeMatrix(data, source: "fuzz-input.npy", nonFinite: .reject, expectedDimension: 4)
    return 0
}
