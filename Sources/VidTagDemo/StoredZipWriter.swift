import Foundation
import VidTagData

/// Writes a zip archive of stored (uncompressed) members, streaming to a file: local headers and data
/// as members are added, the central directory at ``finish()``. Every header field that could vary
/// between runs (times, attributes) is fixed, so the same members in the same order give the same bytes.
/// Members must lie within the first 4 GiB; more than 65,534 members get the ZIP64 end records (the scale
/// data set's million-video split).
final class StoredZipWriter {
    private struct CentralEntry {
        var name: [UInt8]
        var crc32: UInt32
        var size: UInt32
        var localHeaderOffset: UInt32
    }

    let url: URL
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var offset: UInt64 = 0
    private var entries: [CentralEntry] = []
    private var finished = false
    private static let flushThreshold = 1 << 20
    /// 1980-01-01 00:00, the earliest MS-DOS date.
    private static let dosDate: UInt16 = 0x0021

    /// Creates (or truncates) the archive at `url`.
    init(url: URL) throws {
        self.url = url
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw DemoDataError.cannotWrite(path: url.path, reason: "cannot create the file (does its folder exist? is it writable?)")
        }
        handle = try FileHandle(forWritingTo: url)
    }

    deinit { try? handle.close() }

    /// Appends a member named `name` holding `bytes`.
    func add(name: String, bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished, "StoredZipWriter.add after finish()")
        let nameBytes = Array(name.utf8)
        guard offset + UInt64(bytes.count) + 30 + UInt64(nameBytes.count) < UInt64(UInt32.max) else {
            throw DemoDataError.cannotWrite(path: url.path, reason: "the archive would pass 4 GiB, which needs ZIP64 offsets; build fewer or smaller videos")
        }
        let crc = ZipCRC32.checksum(bytes)
        entries.append(CentralEntry(name: nameBytes, crc32: crc, size: UInt32(bytes.count), localHeaderOffset: UInt32(offset)))
        let start = buffer.count
        append32(0x0403_4B50)
        append16(20)  // version needed: 2.0
        append16(0)  // flags
        append16(0)  // stored
        append16(0)  // time
        append16(Self.dosDate)
        append32(crc)
        append32(UInt32(bytes.count))
        append32(UInt32(bytes.count))
        append16(UInt16(nameBytes.count))
        append16(0)  // extra length
        buffer += nameBytes
        buffer += bytes
        offset += UInt64(buffer.count - start)
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    /// Appends a member named `name` holding `data`.
    func add(name: String, data: Data) throws {
        try data.withUnsafeBytes { try add(name: name, bytes: $0) }
    }

    /// Writes the central directory and the end record, and closes the file.
    func finish() throws {
        guard !finished else { return }
        let directoryOffset = offset
        for entry in entries {
            append32(0x0201_4B50)
            append16(20)  // made by: MS-DOS, 2.0
            append16(20)
            append16(0)
            append16(0)
            append16(0)
            append16(Self.dosDate)
            append32(entry.crc32)
            append32(entry.size)
            append32(entry.size)
            append16(UInt16(entry.name.count))
            append16(0)  // extra
            append16(0)  // comment
            append16(0)  // disk
            append16(0)  // internal attributes
            append32(0)  // external attributes
            append32(entry.localHeaderOffset)
            buffer += entry.name
            if buffer.count >= Self.flushThreshold { try flush() }
        }
        let directorySize = entries.reduce(UInt64(0)) { $0 + 46 + UInt64($1.name.count) }  // flushed as it grew
        guard directoryOffset + directorySize < UInt64(UInt32.max) else {
            throw DemoDataError.cannotWrite(path: url.path, reason: "the central directory would pass 4 GiB; build fewer videos")
        }
        let needsZip64 = entries.count >= 0xFFFF
        if needsZip64 {
            let recordOffset = directoryOffset + directorySize
            append32(0x0606_4B50)  // ZIP64 end of central directory record
            append64(44)  // size of the rest of the record
            append16(45)  // made by: 4.5
            append16(45)  // needed: 4.5
            append32(0)
            append32(0)
            append64(UInt64(entries.count))
            append64(UInt64(entries.count))
            append64(directorySize)
            append64(directoryOffset)
            append32(0x0706_4B50)  // ZIP64 end of central directory locator
            append32(0)
            append64(recordOffset)
            append32(1)
        }
        let countField = needsZip64 ? 0xFFFF : UInt16(entries.count)
        append32(0x0605_4B50)
        append16(0)
        append16(0)
        append16(countField)
        append16(countField)
        append32(UInt32(directorySize))
        append32(UInt32(directoryOffset))
        append16(0)
        try flush()
        try handle.close()
        finished = true
    }

    private func flush() throws {
        do { try handle.write(contentsOf: buffer) } catch {
            throw DemoDataError.cannotWrite(path: url.path, reason: "\(error)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func append16(_ value: UInt16) {
        buffer.append(UInt8(value & 0xFF))
        buffer.append(UInt8(value >> 8))
    }

    private func append32(_ value: UInt32) {
        append16(UInt16(value & 0xFFFF))
        append16(UInt16(value >> 16))
    }

    private func append64(_ value: UInt64) {
        append32(UInt32(value & 0xFFFF_FFFF))
        append32(UInt32(value >> 32))
    }
}

/// The CRC-32 of zip and gzip (reflected polynomial 0xEDB88320).
enum ZipCRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 != 0 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
