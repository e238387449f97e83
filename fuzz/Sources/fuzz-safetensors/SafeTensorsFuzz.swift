import Foundation
import FuzzSupport
import Torch

/// Input: a whole safetensors file. Every file the reader accepts must also yield each of its tensors.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    guard let file = try? SafeTensorsFile(data: fuzzInput(bytes, count), path: "fuzz-input.safetensors") else { return 0 }
    for name in file.names {
        _ = try? file.tensor(name)
    }
    return 0
}
