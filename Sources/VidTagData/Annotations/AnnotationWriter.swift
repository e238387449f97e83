import Foundation

/// Writes annotation records in the exact layout of the WeChat files: one JSON array as Python's
/// `json.dump(records, f, indent=1, ensure_ascii=False)` writes it (keys in the order id, category_id,
/// title, asr, ocr; `category_id` left out when nil; no newline at the end). Records stream to the file
/// through a buffer, so a million records need not be held at once.
public final class AnnotationWriter {
    public let url: URL
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var recordCount = 0
    private var finished = false
    private static let flushThreshold = 1 << 20

    /// Creates (or truncates) the file at `url`.
    public init(url: URL) throws {
        self.url = url
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw AnnotationFileError.unreadable(path: url.path, reason: "cannot create the file (does its folder exist?)")
        }
        handle = try FileHandle(forWritingTo: url)
        buffer.reserveCapacity(Self.flushThreshold + 4096)
        buffer.append(UInt8(ascii: "["))
    }

    deinit { try? handle.close() }

    /// Appends one record.
    public func append(_ record: VideoAnnotation) throws {
        precondition(!finished, "AnnotationWriter.append after finish()")
        buffer += Array((recordCount == 0 ? "\n {\n" : ",\n {\n").utf8)
        appendField("id", quoted: record.id, indent: 2)
        if let category = record.categoryId { buffer += Array(",\n".utf8); appendField("category_id", quoted: category, indent: 2) }
        buffer += Array(",\n".utf8); appendField("title", quoted: record.title, indent: 2)
        buffer += Array(",\n".utf8); appendField("asr", quoted: record.asr, indent: 2)
        buffer += Array(",\n  \"ocr\": [".utf8)
        for (position, segment) in record.ocr.enumerated() {
            buffer += Array((position == 0 ? "\n   {\n    \"time\": " : ",\n   {\n    \"time\": ").utf8)
            buffer += Array(String(segment.time).utf8)
            buffer += Array(",\n".utf8)
            appendField("text", quoted: segment.text, indent: 4)
            buffer += Array("\n   }".utf8)
        }
        buffer += Array((record.ocr.isEmpty ? "]\n }" : "\n  ]\n }").utf8)
        recordCount += 1
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    /// Closes the array and the file.
    public func finish() throws {
        guard !finished else { return }
        buffer += Array((recordCount == 0 ? "]" : "\n]").utf8)
        try flush()
        try handle.close()
        finished = true
    }

    /// Writes `records` to `url` in one go.
    public static func write<Records: Sequence>(_ records: Records, to url: URL) throws
    where Records.Element == VideoAnnotation {
        let writer = try AnnotationWriter(url: url)
        for record in records { try writer.append(record) }
        try writer.finish()
    }

    private func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    private func appendField(_ key: String, quoted value: String, indent: Int) {
        buffer += repeatElement(UInt8(ascii: " "), count: indent)
        Self.appendJSONString(key, to: &buffer)
        buffer += Array(": ".utf8)
        Self.appendJSONString(value, to: &buffer)
    }

    /// A JSON string as Python's json module writes it with ensure_ascii=False.
    static func appendJSONString(_ string: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): output += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: output += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: output += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: output += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x08: output += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: output += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output += Array("\\u00".utf8)
                output += [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
