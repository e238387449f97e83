import Foundation
import FuzzSupport
import VidTagData

let scratch = ScratchFile(name: "features.zip")

/// The ids of the seeds' members (`a.npy`, `b.npy`, `c/d.npy`, and the test fixtures' `10…0.npy` to `10…3.npy`).
let seedIDs = ["a", "b", "d"] + (0..<4).map { "100000000000000000\($0)" }

/// Input: a whole feature zip (`zip_feats/{split}.zip`). Opening reads the central directory; reading the
/// seeds' ids then reaches the local headers, inflate and the `.npy` decoder through whatever the mutated
/// directory says.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFeatureZip(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    scratch.write(bytes, count)
    guard let archive = try? FeatureArchive(url: scratch.url, nonFinite: .replaceWithZero) else { return 0 }
    for id in seedIDs where archive.contains(id: id) {
        _ = try? archive.features(id: id)
    }
    return 0
}
