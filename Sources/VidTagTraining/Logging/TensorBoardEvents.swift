import Foundation

/// Writes scalars as a TensorBoard event file (`events.out.tfevents.TIME.HOST`), so that `tensorboard
/// --logdir RUN/tensorboard` shows a run's curves. The format is TFRecord framing (length, masked CRC-32C
/// of the length, the record, masked CRC-32C of the record) around `Event` protocol buffers, the first of
/// which names the file version; each scalar is an `Event { wall_time, step, summary { value { tag,
/// simple_value } } }`. Written by hand (a few dozen bytes per record), so no protobuf dependency.
public final class TensorBoardWriter {
    public let url: URL
    private let handle: FileHandle

    /// Creates a new event file in `folder` (created if needed).
    public init(folder: URL, wallTime: Double = Date().timeIntervalSince1970) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let host = ProcessInfo.processInfo.hostName
        url = folder.appendingPathComponent("events.out.tfevents.\(Int(wallTime)).\(host).\(getpid())")
        FileManager.default.createFile(atPath: url.path, contents: nil)
        handle = try FileHandle(forWritingTo: url)
        try write(record: TensorBoardEvent.fileVersion(wallTime: wallTime))
    }

    deinit { try? handle.close() }

    /// Appends one scalar; `tag` groups charts by its prefix (`train/loss`, `eval/score`).
    public func add(scalar value: Double, tag: String, step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        try write(record: TensorBoardEvent.scalar(tag: tag, value: Float(value), step: Int64(step), wallTime: wallTime))
    }

    /// Appends several scalars of one step.
    public func add(scalars: [String: Double], step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        for tag in scalars.keys.sorted() { try add(scalar: scalars[tag]!, tag: tag, step: step, wallTime: wallTime) }
    }

    public func flush() throws { try handle.synchronize() }

    private func write(record: [UInt8]) throws {
        try handle.write(contentsOf: TFRecord.frame(record))
    }
}

/// TFRecord framing: `uint64 length, uint32 masked_crc32c(length), data, uint32 masked_crc32c(data)`,
/// little-endian.
enum TFRecord {
    static func frame(_ data: [UInt8]) -> [UInt8] {
        var length: [UInt8] = []
        appendLittleEndian(UInt64(data.count), to: &length)
        var out = length
        appendLittleEndian(CRC32C.masked(length), to: &out)
        out += data
        appendLittleEndian(CRC32C.masked(data), to: &out)
        return out
    }

    /// The records of a framed file, each checked against its two CRCs.
    static func records(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var records: [[UInt8]] = []
        var offset = 0
        func fail(_ problem: String) -> TensorBoardError { TensorBoardError("record at byte \(offset): \(problem)") }
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else { throw fail("truncated header") }
            let lengthBytes = Array(bytes[offset..<(offset + 8)])
            let length = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            guard readUInt32(bytes, offset + 8) == CRC32C.masked(lengthBytes) else { throw fail("length CRC mismatch") }
            guard length <= UInt64(bytes.count - offset - 16) else { throw fail("length \(length) beyond the file") }
            let start = offset + 12, end = start + Int(length)
            let data = Array(bytes[start..<end])
            guard readUInt32(bytes, end) == CRC32C.masked(data) else { throw fail("data CRC mismatch") }
            records.append(data)
            offset = end + 4
        }
        return records
    }

    static func readUInt32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
    }

    static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
}

/// CRC-32C (Castagnoli), as TFRecord uses it, with TensorFlow's masking.
enum CRC32C {
    static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    static func masked(_ bytes: [UInt8]) -> UInt32 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}

/// The few `Event` protocol buffers a scalar log needs, encoded field by field.
enum TensorBoardEvent {
    static func fileVersion(wallTime: Double) -> [UInt8] {
        var event = Protobuf()
        event.double(1, wallTime)
        event.bytes(3, Array("brain.Event:2".utf8))
        return event.bytes
    }

    static func scalar(tag: String, value: Float, step: Int64, wallTime: Double) -> [UInt8] {
        var summaryValue = Protobuf()
        summaryValue.bytes(1, Array(tag.utf8))
        summaryValue.float(2, value)
        var summary = Protobuf()
        summary.bytes(1, summaryValue.bytes)
        var event = Protobuf()
        event.double(1, wallTime)
        event.varint(2, UInt64(bitPattern: step))
        event.bytes(5, summary.bytes)
        return event.bytes
    }
}

/// A protocol-buffer message being written: fields in the order given.
struct Protobuf {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ field: Int, _ value: UInt64) {
        key(field, wireType: 0)
        rawVarint(value)
    }

    mutating func double(_ field: Int, _ value: Double) {
        key(field, wireType: 1)
        TFRecord.appendLittleEndian(value.bitPattern, to: &bytes)
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, wireType: 5)
        TFRecord.appendLittleEndian(value.bitPattern, to: &bytes)
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        key(field, wireType: 2)
        rawVarint(UInt64(value.count))
        bytes += value
    }

    private mutating func key(_ field: Int, wireType: UInt64) { rawVarint(UInt64(field) << 3 | wireType) }

    private mutating func rawVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}

/// An event file that does not read back.
public struct TensorBoardError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
