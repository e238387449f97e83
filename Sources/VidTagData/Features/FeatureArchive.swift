import Foundation
import ZIPFoundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Random access to `zip_feats/{split}.zip`: one `{id}.npy` member per video.
///
/// Opening reads only the zip's central directory (streamed, ZIP64 included) into a compact
/// id → (offset, sizes, method) index; each ``features(id:)`` call then reads that member alone with
/// `pread` on one shared descriptor and inflates it when it is deflated. There is no shared file position,
/// so any number of threads may read at once.
public final class FeatureArchive: Sendable {
    /// One member's place in the zip, from the central directory.
    struct Entry: Sendable {
        var localHeaderOffset: UInt64
        var compressedSize: UInt64
        var uncompressedSize: UInt64
        var crc32: UInt32
        var method: UInt16
        var flags: UInt16
    }

    /// The zip's path.
    public let path: String
    public let nonFinite: NonFinitePolicy
    public let expectedDimension: Int?
    /// Also check the CRC-32 of stored members (deflated members are always checked).
    public let verifyStoredChecksums: Bool
    private let descriptor: Int32
    private let fileSize: UInt64
    private let index: VideoIDMap<Entry>
    /// Members that are not `*.npy` files (directories, stray files); they are ignored.
    public let ignoredMemberCount: Int

    /// Opens the zip and reads its central directory.
    /// - Parameters:
    ///   - nonFinite: what to do with NaN / infinite feature values.
    ///   - expectedDimension: reject members whose second dimension differs (nil: any).
    public init(
        url: URL, nonFinite: NonFinitePolicy = .reject, expectedDimension: Int? = nil, verifyStoredChecksums: Bool = false
    ) throws {
        path = url.path
        self.nonFinite = nonFinite
        self.expectedDimension = expectedDimension
        self.verifyStoredChecksums = verifyStoredChecksums
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw FeatureError(kind: .unreadable, source: url.path, member: nil,
                               problem: "cannot open: \(String(cString: strerror(errno)))",
                               hint: "check the data root and split name")
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            close(descriptor)
            throw FeatureError(kind: .unreadable, source: url.path, member: nil,
                               problem: "cannot stat: \(String(cString: strerror(errno)))", hint: "")
        }
        do {
            let directory = try CentralDirectoryReader(descriptor: descriptor, fileSize: UInt64(info.st_size), path: url.path)
            (index, ignoredMemberCount) = try directory.readIndex()
        } catch {
            close(descriptor)
            throw error
        }
        self.descriptor = descriptor
        self.fileSize = UInt64(info.st_size)
    }

    deinit { close(descriptor) }

    /// The number of `.npy` members.
    public var count: Int { index.count }

    /// Whether the zip holds `{id}.npy`.
    public func contains(id: String) -> Bool { index[id] != nil }

    /// The features of video `id`, from member `{id}.npy`.
    public func features(id: String) throws -> FrameFeatures {
        let member = "\(id).npy"
        let bytes = try memberBytes(id: id)
        return try bytes.withUnsafeBytes {
            try Npy.decodeMatrix($0, source: path, member: member, nonFinite: nonFinite, expectedDimension: expectedDimension)
        }
    }

    /// The uncompressed bytes of member `{id}.npy`.
    public func memberBytes(id: String) throws -> [UInt8] {
        let member = "\(id).npy"
        func fail(_ kind: FeatureError.Kind, _ problem: String, _ hint: String) -> FeatureError {
            FeatureError(kind: kind, source: path, member: member, problem: problem, hint: hint)
        }
        guard let entry = index[id] else {
            throw fail(.missingMember, "no such member among the zip's \(count) .npy members",
                       "is the id in this split? the annotation and feature files must be of the same split")
        }
        if entry.flags & 1 != 0 { throw fail(.unsupportedZip, "the member is encrypted", "rezip without a password") }
        var localHeader = [UInt8](repeating: 0, count: 30)
        let headerRead = try readFully(&localHeader, at: entry.localHeaderOffset)
        guard headerRead == 30, ZipBytes.uint32(localHeader, 0) == 0x0403_4B50 else {
            throw fail(.corruptMember, "no local file header at offset \(entry.localHeaderOffset)",
                       "the zip is damaged or truncated; re-download or rebuild it")
        }
        let dataOffset = entry.localHeaderOffset + 30 + UInt64(ZipBytes.uint16(localHeader, 26))
            + UInt64(ZipBytes.uint16(localHeader, 28))
        guard dataOffset <= fileSize, entry.compressedSize <= fileSize - dataOffset else {
            throw fail(.truncated, "the member's \(entry.compressedSize) bytes at offset \(dataOffset) run past the end of the \(fileSize)-byte zip",
                       "the zip is truncated or damaged; re-download or rebuild it")
        }
        var stored = [UInt8](repeating: 0, count: Int(entry.compressedSize))
        let got = try readFully(&stored, at: dataOffset)
        guard got == stored.count else {
            throw fail(.truncated, "the zip ends after \(got) of the member's \(stored.count) bytes",
                       "the zip is truncated; re-download or rebuild it")
        }
        switch entry.method {
        case 0:
            guard entry.uncompressedSize == entry.compressedSize else {
                throw fail(.corruptMember, "stored member with sizes \(entry.compressedSize) ≠ \(entry.uncompressedSize)", "")
            }
            if verifyStoredChecksums {
                let crc = Data(stored).crc32(checksum: 0)
                guard crc == entry.crc32 else {
                    throw fail(.corruptMember, "CRC-32 mismatch", "the zip is damaged; re-download or rebuild it")
                }
            }
            return stored
        case 8:
            return try inflate(stored, entry: entry, fail: fail)
        default:
            throw fail(.unsupportedCompression, "compression method \(entry.method)",
                       "only stored (0) and deflated (8) members are read; rezip with zip -0 or zip -6")
        }
    }

    private func inflate(
        _ compressed: [UInt8], entry: Entry, fail: (FeatureError.Kind, String, String) -> FeatureError
    ) throws -> [UInt8] {
        let source = Data(compressed)
        var output = [UInt8]()
        // Deflate expands at most 1032-fold, so a damaged size in the directory cannot reserve more than that.
        output.reserveCapacity(Int(min(entry.uncompressedSize, UInt64(compressed.count) * 1032 + 64, 1 << 30)))
        let limit = entry.uncompressedSize
        let crc: CRC32
        do {
            crc = try Data.decompress(
                size: Int64(compressed.count), bufferSize: 64 * 1024, skipCRC32: false,
                provider: { position, size in
                    let start = Int(position)
                    guard start < source.count else { throw fail(.truncated, "the deflate stream ends early", "the zip is damaged") }
                    return source.subdata(in: start..<min(source.count, start + size))
                },
                consumer: { chunk in
                    output.append(contentsOf: chunk)
                    if UInt64(output.count) > limit {
                        throw fail(.corruptMember, "inflates to more than the \(limit) bytes the directory states", "the zip is damaged")
                    }
                })
        } catch let error as FeatureError {
            throw error
        } catch {
            throw fail(.corruptMember, "cannot inflate: \(error)", "the zip is damaged; re-download or rebuild it")
        }
        guard UInt64(output.count) == entry.uncompressedSize else {
            throw fail(.truncated, "inflates to \(output.count) bytes, the directory states \(entry.uncompressedSize)", "the zip is damaged")
        }
        guard crc == entry.crc32 else { throw fail(.corruptMember, "CRC-32 mismatch", "the zip is damaged; re-download or rebuild it") }
        return output
    }

    /// Reads up to `buffer.count` bytes at `offset`; returns how many were read (fewer only at end of file).
    private func readFully(_ buffer: inout [UInt8], at offset: UInt64) throws -> Int {
        try ZipBytes.pread(descriptor: descriptor, into: &buffer, at: offset, path: path)
    }
}

/// Little-endian field access and positioned reads.
enum ZipBytes {
    static func uint16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    static func uint32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(uint16(bytes, offset)) | UInt32(uint16(bytes, offset + 2)) << 16
    }

    static func uint64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        UInt64(uint32(bytes, offset)) | UInt64(uint32(bytes, offset + 4)) << 32
    }

    /// Reads up to `buffer.count` bytes at `offset`; returns how many were read (fewer only at the end of the
    /// file, none for an offset beyond any file, as a damaged zip can state).
    static func pread(descriptor: Int32, into buffer: inout [UInt8], at offset: UInt64, path: String) throws -> Int {
        var total = 0
        let count = buffer.count
        guard offset <= UInt64(Int64.max) - UInt64(count) else { return 0 }
        try buffer.withUnsafeMutableBytes { raw in
            while total < count {
                let got = systemPread(descriptor, raw.baseAddress! + total, count - total, off_t(offset) + off_t(total))
                if got < 0 {
                    if errno == EINTR { continue }
                    throw FeatureError(kind: .unreadable, source: path, member: nil,
                                       problem: "read failed at offset \(offset): \(String(cString: strerror(errno)))", hint: "")
                }
                if got == 0 { break }
                total += got
            }
        }
        return total
    }
}

#if canImport(Glibc)
private let systemPread = Glibc.pread
#else
private let systemPread = Darwin.pread
#endif

/// Reads a zip's end-of-central-directory record (and its ZIP64 form) and streams the central directory
/// into a member index, a chunk at a time.
private struct CentralDirectoryReader {
    let descriptor: Int32
    let fileSize: UInt64
    let path: String
    var entryCount: UInt64 = 0
    var directoryOffset: UInt64 = 0
    var directorySize: UInt64 = 0

    init(descriptor: Int32, fileSize: UInt64, path: String) throws {
        self.descriptor = descriptor
        self.fileSize = fileSize
        self.path = path
        try locateDirectory()
    }

    private func fail(_ kind: FeatureError.Kind, _ problem: String, _ hint: String = "is it a zip file, and complete?") -> FeatureError {
        FeatureError(kind: kind, source: path, member: nil, problem: problem, hint: hint)
    }

    private func fail(_ problem: String) -> FeatureError { fail(.notAZip, problem) }

    private func read(_ count: Int, at offset: UInt64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = try ZipBytes.pread(descriptor: descriptor, into: &bytes, at: offset, path: path)
        guard got == count else { throw fail(.truncated, "the file ends at \(offset + UInt64(got)) while reading \(count) bytes at \(offset)") }
        return bytes
    }

    private mutating func locateDirectory() throws {
        guard fileSize >= 22 else { throw fail("\(fileSize) bytes is too short for a zip (no end of central directory)") }
        let tailLength = Int(min(fileSize, 22 + 65_535))
        let tailStart = fileSize - UInt64(tailLength)
        let tail = try read(tailLength, at: tailStart)
        guard let recordStart = stride(from: tailLength - 22, through: 0, by: -1).first(where: { ZipBytes.uint32(tail, $0) == 0x0605_4B50 })
        else { throw fail("no end-of-central-directory record in the last \(tailLength) bytes") }
        entryCount = UInt64(ZipBytes.uint16(tail, recordStart + 10))
        directorySize = UInt64(ZipBytes.uint32(tail, recordStart + 12))
        directoryOffset = UInt64(ZipBytes.uint32(tail, recordStart + 16))
        if ZipBytes.uint16(tail, recordStart + 4) != 0 && ZipBytes.uint16(tail, recordStart + 4) != 0xFFFF {
            throw fail(.unsupportedZip, "a multi-disk (split) zip", "join the parts into one zip")
        }
        let recordOffset = tailStart + UInt64(recordStart)
        let needsZip64 = entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF
        if recordOffset >= 20 {
            let locator = try read(20, at: recordOffset - 20)
            if ZipBytes.uint32(locator, 0) == 0x0706_4B50 {
                let zip64Offset = ZipBytes.uint64(locator, 8)
                let record = try read(56, at: zip64Offset)
                guard ZipBytes.uint32(record, 0) == 0x0606_4B50 else {
                    throw fail("the ZIP64 locator points at \(zip64Offset), where there is no ZIP64 end record")
                }
                entryCount = ZipBytes.uint64(record, 32)
                directorySize = ZipBytes.uint64(record, 40)
                directoryOffset = ZipBytes.uint64(record, 48)
            } else if needsZip64 {
                throw fail("the end record asks for ZIP64 but there is no ZIP64 locator")
            }
        }
        let (directoryEnd, overflow) = directoryOffset.addingReportingOverflow(directorySize)
        guard !overflow, directoryEnd <= recordOffset else {
            throw fail(.truncated, "the central directory (\(directorySize) bytes at \(directoryOffset)) lies outside the file of \(fileSize) bytes",
                       "the zip is truncated or damaged")
        }
        // Each directory entry takes at least 46 bytes: a larger count is damage, and must not size the index.
        guard entryCount <= directorySize / 46 else {
            throw fail("the end record claims \(entryCount) members, but its \(directorySize)-byte central directory holds at most \(directorySize / 46)")
        }
    }

    func readIndex() throws -> (VideoIDMap<FeatureArchive.Entry>, Int) {
        var index = VideoIDMap<FeatureArchive.Entry>()
        index.reserveCapacity(Int(min(entryCount, 10_000_000)))
        var ignored = 0
        let chunkSize = 1 << 20
        var pending: [UInt8] = []
        var consumed: UInt64 = 0
        var parsedEntries: UInt64 = 0
        var cursor = 0
        func need(_ count: Int) throws -> Bool {
            if pending.count - cursor >= count { return true }
            pending.removeSubrange(0..<cursor)
            cursor = 0
            while pending.count < count && consumed < directorySize {
                let size = Int(min(UInt64(max(chunkSize, count)), directorySize - consumed))
                pending += try read(size, at: directoryOffset + consumed)
                consumed += UInt64(size)
            }
            return pending.count >= count
        }
        while parsedEntries < entryCount {
            guard try need(46), ZipBytes.uint32(pending, cursor) == 0x0201_4B50 else {
                throw fail("central directory entry \(parsedEntries) of \(entryCount) is missing or damaged")
            }
            let nameLength = Int(ZipBytes.uint16(pending, cursor + 28))
            let extraLength = Int(ZipBytes.uint16(pending, cursor + 30))
            let commentLength = Int(ZipBytes.uint16(pending, cursor + 32))
            let total = 46 + nameLength + extraLength + commentLength
            guard try need(total) else { throw fail("central directory entry \(parsedEntries) is cut off") }
            let base = cursor
            var entry = FeatureArchive.Entry(
                localHeaderOffset: UInt64(ZipBytes.uint32(pending, base + 42)),
                compressedSize: UInt64(ZipBytes.uint32(pending, base + 20)),
                uncompressedSize: UInt64(ZipBytes.uint32(pending, base + 24)),
                crc32: ZipBytes.uint32(pending, base + 16),
                method: ZipBytes.uint16(pending, base + 10),
                flags: ZipBytes.uint16(pending, base + 8))
            var extra = base + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let tag = ZipBytes.uint16(pending, extra), size = Int(ZipBytes.uint16(pending, extra + 2))
                if tag == 0x0001 {
                    var field = extra + 4
                    let fieldEnd = min(field + size, extraEnd)
                    func next() -> UInt64? {
                        guard field + 8 <= fieldEnd else { return nil }
                        defer { field += 8 }
                        return ZipBytes.uint64(pending, field)
                    }
                    if entry.uncompressedSize == 0xFFFF_FFFF, let value = next() { entry.uncompressedSize = value }
                    if entry.compressedSize == 0xFFFF_FFFF, let value = next() { entry.compressedSize = value }
                    if entry.localHeaderOffset == 0xFFFF_FFFF, let value = next() { entry.localHeaderOffset = value }
                }
                extra += 4 + size
            }
            let name = pending[(base + 46)..<(base + 46 + nameLength)]
            let baseStart = (name.lastIndex(of: UInt8(ascii: "/")) ?? (name.startIndex - 1)) + 1
            if name.count >= 4, name.suffix(4).elementsEqual(".npy".utf8), baseStart < name.endIndex - 4 {
                guard index.insertNew(utf8: name[baseStart..<(name.endIndex - 4)], entry) else {
                    let fullName = String(decoding: name, as: UTF8.self)
                    throw fail(.duplicateMember, "two members are named \(fullName.split(separator: "/").last ?? "") (the second: \(fullName))",
                               "each video must have exactly one feature member")
                }
            } else {
                ignored += 1
            }
            cursor += total
            parsedEntries += 1
        }
        return (index, ignored)
    }
}
