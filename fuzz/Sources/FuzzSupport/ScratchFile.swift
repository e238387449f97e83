import Foundation

/// A file that one fuzz process rewrites with each input, for parsers that read from a path or a
/// descriptor. It lives in a folder of its own (on the RAM disk /dev/shm where there is one), named after
/// the process, so parallel fuzzers never share it.
public final class ScratchFile: @unchecked Sendable {
    /// The folder holding the file; callers may create siblings inside it.
    public let folder: URL
    /// The file itself.
    public let url: URL

    /// A scratch file named `name` in a fresh folder of this process.
    public init(name: String) {
        let shm = URL(fileURLWithPath: "/dev/shm", isDirectory: true)
        let base = FileManager.default.isWritableFile(atPath: shm.path) ? shm : FileManager.default.temporaryDirectory
        folder = base.appendingPathComponent("vidtag-fuzz-\(ProcessInfo.processInfo.processIdentifier)", isDirectory: true)
        url = folder.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    }

    /// Replaces the file's content by the fuzzer's input.
    public func write(_ bytes: UnsafePointer<UInt8>?, _ count: Int) {
        let data = count > 0 && bytes != nil ? Data(bytes: bytes!, count: count) : Data()
        do {
            try data.write(to: url)
        } catch {
            // A fuzz run that cannot write its input tests nothing: stop loudly rather than pass silently.
            fatalError("fuzz scratch file \(url.path): \(error)")
        }
    }
}

/// The fuzzer's input as `Data`.
public func fuzzInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Data {
    count > 0 && bytes != nil ? Data(bytes: bytes!, count: count) : Data()
}
