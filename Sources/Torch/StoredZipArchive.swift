import Foundation

/// The member table of a zip archive whose members are stored uncompressed, as `torch.save` writes them
/// (PyTorch's `PyTorchStreamWriter`: stored members, 64-byte aligned data, always a zip64 end record).
/// Reads the central directory only; a member's bytes are a range of the archive's own bytes, never copied.
/// Every offset and size is checked against the archive, so a truncated or corrupt file is an error, not a
/// crash. Problems are returned as text for the caller to put in its own error (with the file's path).
struct StoredZipArchive {
    struct Member {
        let name: String
        /// Compression method (0 = stored; anything else is refused when the member is read).
        let method: UInt16
        /// Where the member's bytes lie in the archive.
        let range: Range<Int>
    }

    struct Problem: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Members in central-directory order.
    let members: [Member]
    private let byName: [String: Int]

    static let localHeaderSignature: UInt32 = 0x0403_4b50
    static let centralHeaderSignature: UInt32 = 0x0201_4b50
    static let endSignature: UInt32 = 0x0605_4b50
    static let zip64EndSignature: UInt32 = 0x0606_4b50
    static let zip64LocatorSignature: UInt32 = 0x0706_4b50

    /// True when `bytes` begins as a zip archive does (a local file header).
    static func looksLikeZip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && ByteReader.uint32(bytes, at: 0) == localHeaderSignature
    }

    init(_ bytes: UnsafeRawBufferPointer) throws {
        let size = bytes.count
        guard size >= 22 else { throw Problem("\(size) bytes is too short for a zip archive") }
        // The end-of-central-directory record: 22 bytes plus a comment of at most 65535 bytes, at the end.
        var endOffset: Int?
        var candidate = size - 22
        let lowest = Swift.max(0, size - 22 - 0xFFFF)
        while candidate >= lowest {
            if ByteReader.uint32(bytes, at: candidate) == Self.endSignature {
                endOffset = candidate
                break
            }
            candidate -= 1
        }
        guard let endOffset else {
            throw Problem("no end-of-central-directory record: not a zip archive, or truncated")
        }
        var memberCount = Int(ByteReader.uint16(bytes, at: endOffset + 10))
        var directorySize = Int(ByteReader.uint32(bytes, at: endOffset + 12))
        var directoryOffset = Int(ByteReader.uint32(bytes, at: endOffset + 16))
        let locatorOffset = endOffset - 20
        if locatorOffset >= 0, ByteReader.uint32(bytes, at: locatorOffset) == Self.zip64LocatorSignature {
            let recordOffset = ByteReader.uint64(bytes, at: locatorOffset + 8)
            guard size >= 56, recordOffset <= UInt64(size - 56),
                  ByteReader.uint32(bytes, at: Int(recordOffset)) == Self.zip64EndSignature
            else { throw Problem("the zip64 end record is missing or out of range (offset \(recordOffset))") }
            let record = Int(recordOffset)
            let count64 = ByteReader.uint64(bytes, at: record + 32)
            let directorySize64 = ByteReader.uint64(bytes, at: record + 40)
            let directoryOffset64 = ByteReader.uint64(bytes, at: record + 48)
            guard count64 <= UInt64(size), directorySize64 <= UInt64(size), directoryOffset64 <= UInt64(size) else {
                throw Problem("the zip64 end record gives sizes beyond the file (\(size) bytes)")
            }
            memberCount = Int(count64)
            directorySize = Int(directorySize64)
            directoryOffset = Int(directoryOffset64)
        }
        guard directoryOffset <= size, directorySize <= size - directoryOffset else {
            throw Problem("the central directory (\(directorySize) bytes at \(directoryOffset)) runs past the end "
                + "of the file (\(size) bytes): truncated")
        }
        guard memberCount <= directorySize / 46 else {
            throw Problem("the central directory claims \(memberCount) members in \(directorySize) bytes")
        }

        var members: [Member] = []
        var byName: [String: Int] = [:]
        var cursor = directoryOffset
        let directoryEnd = directoryOffset + directorySize
        for index in 0..<memberCount {
            guard cursor <= directoryEnd - 46, ByteReader.uint32(bytes, at: cursor) == Self.centralHeaderSignature else {
                throw Problem("central directory entry \(index) at byte \(cursor) is missing or corrupt")
            }
            let flags = ByteReader.uint16(bytes, at: cursor + 8)
            let method = ByteReader.uint16(bytes, at: cursor + 10)
            var compressedSize = UInt64(ByteReader.uint32(bytes, at: cursor + 20))
            var uncompressedSize = UInt64(ByteReader.uint32(bytes, at: cursor + 24))
            let nameLength = Int(ByteReader.uint16(bytes, at: cursor + 28))
            let extraLength = Int(ByteReader.uint16(bytes, at: cursor + 30))
            let commentLength = Int(ByteReader.uint16(bytes, at: cursor + 32))
            var localOffset = UInt64(ByteReader.uint32(bytes, at: cursor + 42))
            let nameStart = cursor + 46
            let entryEnd = nameStart + nameLength + extraLength + commentLength
            guard entryEnd <= directoryEnd else {
                throw Problem("central directory entry \(index) runs past the directory's end")
            }
            let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[nameStart..<(nameStart + nameLength)])
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw Problem("central directory entry \(index) has a name that is not UTF-8")
            }
            guard flags & 1 == 0 else { throw Problem("member \(name) is encrypted") }

            // zip64 extra field (id 1): 8-byte values for each 32-bit field saturated at 0xFFFFFFFF, in order.
            var extra = nameStart + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = ByteReader.uint16(bytes, at: extra)
                let length = Int(ByteReader.uint16(bytes, at: extra + 2))
                let body = extra + 4
                guard body + length <= extraEnd else { throw Problem("member \(name): extra field runs past its entry") }
                if id == 1 {
                    var field = body
                    func next() throws -> UInt64 {
                        guard field + 8 <= body + length else { throw Problem("member \(name): zip64 field too short") }
                        defer { field += 8 }
                        return ByteReader.uint64(bytes, at: field)
                    }
                    if uncompressedSize == 0xFFFF_FFFF { uncompressedSize = try next() }
                    if compressedSize == 0xFFFF_FFFF { compressedSize = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                }
                extra = body + length
            }

            guard size >= 30, localOffset <= UInt64(size - 30),
                  ByteReader.uint32(bytes, at: Int(localOffset)) == Self.localHeaderSignature
            else { throw Problem("member \(name): local header at \(localOffset) is missing or corrupt") }
            let local = Int(localOffset)
            let dataStart = local + 30 + Int(ByteReader.uint16(bytes, at: local + 26))
                + Int(ByteReader.uint16(bytes, at: local + 28))
            guard compressedSize <= UInt64(size), dataStart <= size - Int(compressedSize) else {
                throw Problem("member \(name) (\(compressedSize) bytes at \(dataStart)) runs past the end of the file "
                    + "(\(size) bytes): truncated")
            }
            if method == 0, compressedSize != uncompressedSize {
                throw Problem("member \(name) is stored but its sizes differ (\(compressedSize) and \(uncompressedSize))")
            }
            guard byName[name] == nil else { throw Problem("member \(name) appears twice") }
            byName[name] = members.count
            members.append(Member(name: name, method: method, range: dataStart..<(dataStart + Int(compressedSize))))
            cursor = entryEnd
        }
        self.members = members
        self.byName = byName
    }

    func member(_ name: String) -> Member? { byName[name].map { members[$0] } }
}

/// Little-endian integers at byte offsets the caller has checked.
enum ByteReader {
    static func uint16(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt16 {
        UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    static func uint32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    static func uint64(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
