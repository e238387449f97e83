import Foundation

/// A problem with a safetensors file; names the file and, where it applies, the tensor.
public struct SafeTensorsError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let tensor: String?
    public let problem: String

    public var description: String {
        if let tensor { return "\(path): tensor '\(tensor)': \(problem)" }
        return "\(path): \(problem)"
    }
}

/// A safetensors file (https://github.com/huggingface/safetensors, the format Hugging Face checkpoints use):
/// 8 bytes little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]},
/// "__metadata__": {…}}`, then the data. The file is memory-mapped; nothing in it is ever executed.
public struct SafeTensorsFile: Sendable {
    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range within the data section.
        public let range: Range<Int>
    }

    public let path: String
    public let metadata: [String: String]
    public let entries: [String: Entry]
    private let data: Data
    private let dataStart: Int

    static let dtypeNames: [String: DType] = [
        "F32": .float32, "F16": .float16, "BF16": .bfloat16, "F64": .float64, "I64": .int64, "I32": .int32,
        "BOOL": .bool, "U8": .uint8,
    ]

    /// The largest header accepted, in bytes: the reference implementation's limit (its `MAX_HEADER_SIZE`),
    /// so a damaged or hostile length cannot make the reader allocate and parse gigabytes of "JSON".
    public static let maximumHeaderLength = 100_000_000

    /// Opens and validates `url` (header, dtypes, shapes, offsets); tensors are read on demand.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw SafeTensorsError(path: url.path, tensor: nil, problem: "cannot read the file (\(error.localizedDescription))")
        }
        try self.init(data: data, path: url.path)
    }

    /// Validates the whole safetensors file held in `data` as the reference implementation does: a header
    /// of at most ``maximumHeaderLength`` bytes, known dtypes, shapes that match their byte ranges, and
    /// tensors that tile the data section exactly (no gap, no overlap, no byte left over).
    /// `path` names the file in errors.
    public init(data: Data, path: String) throws {
        func fail(_ problem: String, tensor: String? = nil) -> SafeTensorsError {
            SafeTensorsError(path: path, tensor: tensor, problem: problem)
        }
        guard data.count >= 8 else { throw fail("file is \(data.count) bytes, too short for the 8-byte header length") }
        let headerLength = data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(Self.maximumHeaderLength) else {
            throw fail("header length \(headerLength) exceeds the \(Self.maximumHeaderLength)-byte limit: damaged or not a safetensors file")
        }
        guard headerLength <= UInt64(data.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the file (\(data.count) bytes): truncated or not a safetensors file")
        }
        let headerEnd = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data.subdata(in: data.startIndex + 8..<data.startIndex + headerEnd))
        } catch {
            throw fail("header is not valid JSON (\(error.localizedDescription))")
        }
        guard let header = json as? [String: Any] else { throw fail("header is not a JSON object") }
        let dataLength = data.count - headerEnd

        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let table = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (key, item) in table {
                    guard let text = item as? String else { throw fail("__metadata__.\(key) is not a string") }
                    metadata[key] = text
                }
                continue
            }
            guard let info = value as? [String: Any] else { throw fail("entry is not an object", tensor: name) }
            guard let dtypeName = info["dtype"] as? String else { throw fail("no dtype", tensor: name) }
            guard let dtype = Self.dtypeNames[dtypeName] else {
                throw fail("unknown dtype \(dtypeName) (vidtag reads \(Self.dtypeNames.keys.sorted().joined(separator: ", ")))", tensor: name)
            }
            guard let shape = Self.integers(info["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("shape is not a list of non-negative integers", tensor: name)
            }
            guard let offsets = Self.integers(info["data_offsets"]), offsets.count == 2 else {
                throw fail("data_offsets is not [begin, end]", tensor: name)
            }
            let begin = offsets[0]
            let end = offsets[1]
            guard begin >= 0, end >= begin, end <= dataLength else {
                throw fail("data_offsets [\(begin), \(end)] out of range (data section is \(dataLength) bytes)", tensor: name)
            }
            let expected = shape.reduce(Optional(dtype.byteSize)) { total, size in
                total.flatMap { total in
                    let (product, overflow) = total.multipliedReportingOverflow(by: size)
                    return overflow ? nil : product
                }
            }
            guard let expected, expected == end - begin else {
                let needed = expected.map { "\($0)" } ?? "more than \(Int.max)"
                throw fail("shape \(shape) of \(dtypeName) needs \(needed) bytes, data_offsets give \(end - begin)", tensor: name)
            }
            entries[name] = Entry(name: name, dtype: dtype, shape: shape, range: begin..<end)
        }
        try Self.checkTiling(entries.values, dataLength: dataLength, fail: fail)
        self.path = path
        self.metadata = metadata
        self.entries = entries
        self.data = data
        self.dataStart = headerEnd
    }

    /// Checks that the tensors, in offset order, tile the data section: each begins where the one before it
    /// ends (the first at 0) and the last ends at the end of the file, as the reference's `validate` demands.
    private static func checkTiling(
        _ entries: some Collection<Entry>, dataLength: Int, fail: (String, String?) -> SafeTensorsError
    ) throws {
        let ordered = entries.sorted {
            ($0.range.lowerBound, $0.range.upperBound, $0.name) < ($1.range.lowerBound, $1.range.upperBound, $1.name)
        }
        var covered = 0
        var previous: Entry?
        for entry in ordered {
            let begin = entry.range.lowerBound
            if begin < covered, let previous {
                throw fail("data overlaps tensor '\(previous.name)' (\(previous.range) and \(entry.range))", entry.name)
            }
            if begin > covered {
                let after = previous.map { "after tensor '\($0.name)'" } ?? "at the start of the data section"
                throw fail("data_offsets begin at \(begin), leaving bytes \(covered)..<\(begin) \(after) unused (a gap)", entry.name)
            }
            covered = entry.range.upperBound
            previous = entry
        }
        guard covered == dataLength else {
            let owner = previous.map { "the last tensor, '\($0.name)', ends at \(covered)" } ?? "there are no tensors"
            throw fail("\(dataLength - covered) bytes at the end of the \(dataLength)-byte data section belong to no tensor (\(owner)): damaged or not a safetensors file", nil)
        }
    }

    /// The elements of a JSON list of whole numbers; nil when one is fractional or too large for an Int.
    static func integers(_ value: Any?) -> [Int]? {
        guard let numbers = value as? [NSNumber] else { return nil }
        var result: [Int] = []
        for number in numbers {
            let approximate = number.doubleValue
            guard approximate.rounded() == approximate, Swift.abs(approximate) < 0x1p62 else { return nil }
            result.append(number.intValue)
        }
        return result
    }

    /// Tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// A CPU tensor holding a copy of the named tensor.
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else {
            throw SafeTensorsError(path: path, tensor: name, problem: "no such tensor in the file")
        }
        let start = dataStart + entry.range.lowerBound
        let tensor = data.withUnsafeBytes { bytes in
            Tensor(bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + entry.range.count)]), dtype: entry.dtype,
                   shape: entry.shape)
        }
        guard tensor.isValid else {
            throw SafeTensorsError(path: path, tensor: name, problem: "libtorch could not create it")
        }
        return tensor
    }

    /// Every tensor, by name.
    public func tensors() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for name in entries.keys { result[name] = try tensor(name) }
        return result
    }
}

public enum SafeTensors {
    static let dtypeCodes: [DType: String] = Dictionary(
        uniqueKeysWithValues: SafeTensorsFile.dtypeNames.map { ($1, $0) })

    /// Reads every tensor of a file.
    public static func load(_ url: URL) throws -> [String: Tensor] {
        try SafeTensorsFile(contentsOf: url).tensors()
    }

    /// Writes `tensors` (sorted by name) to `url` atomically: the data are streamed to a temporary file in
    /// the same folder, flushed, then renamed over `url`, so a crash leaves either the old or the new file.
    public static func save(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        let names = tensors.keys.sorted()
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for name in names {
            let tensor = tensors[name]!
            guard tensor.isValid else {
                throw SafeTensorsError(path: url.path, tensor: name, problem: "tensor is invalid (an earlier operation failed)")
            }
            let size = tensor.count * tensor.dtype.byteSize
            header[name] = [
                "dtype": dtypeCodes[tensor.dtype]!, "shape": tensor.shape, "data_offsets": [offset, offset + size],
            ] as [String: Any]
            offset += size
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces to a multiple of 8 bytes, as the reference writer does.
        while (json.count % 8) != 0 { json.append(0x20) }
        var length = UInt64(json.count).littleEndian

        try AtomicFile.write(to: url) { handle in
            try handle.write(contentsOf: Data(bytes: &length, count: 8))
            try handle.write(contentsOf: json)
            for name in names {
                let bytes = tensors[name]!.rawBytes()
                try handle.write(contentsOf: bytes)
            }
        }
    }
}

/// Writes a file so that readers see either its old content or its complete new content.
public enum AtomicFile {
    public static func write(to url: URL, _ body: (FileHandle) throws -> Void) throws {
        let folder = url.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw SafeTensorsError(path: url.path, tensor: nil, problem: "cannot create \(temporary.path) (does the folder exist and is it writable?)")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try body(handle)
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw SafeTensorsError(path: url.path, tensor: nil, problem: "cannot move the new file into place: \(reason)")
        }
    }

    /// Writes `data` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(contentsOf: data) }
    }
}
