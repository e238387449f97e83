import Foundation
import Testing

@testable import VidTagData

/// Inputs found by the fuzz targets in fuzz/ (or made after their findings) that once made a reader
/// allocate gigabytes, trap or hang. Each must now give a clear error naming the file. The committed
/// inputs are in Tests/Fixtures/fuzz; docs/results/fuzzing.md tells how each was found.
@Suite("Fuzzing findings")
struct FuzzFindingsTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fuzz")

    static func fixture(_ name: String) throws -> URL {
        let url = fixtures.appendingPathComponent(name)
        try #require(FileManager.default.fileExists(atPath: url.path), "missing fixture \(url.path)")
        return url
    }

    /// Writes `bytes` to `name` (a relative path) inside a fresh temporary folder; returns both.
    static func temporaryFile(_ bytes: [UInt8], named name: String) throws -> (folder: URL, file: URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-fuzz-findings-\(UUID().uuidString)")
        let url = folder.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        return (folder, url)
    }

    static func littleEndian<Integer: FixedWidthInteger>(_ value: Integer) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    /// fuzz-feature-zip, first minute: a member whose ZIP64 extra field lost its tag keeps the 0xFFFFFFFF
    /// placeholder sizes, and the reader allocated 4 GiB for it before reading a byte.
    @Test func aMemberLargerThanTheZipIsRefusedBeforeAllocating() throws {
        let url = try Self.fixture("feature_zip_member_size_4gb.zip")
        let archive = try FeatureArchive(url: url)
        let error = try #require(throws: FeatureError.self) { try archive.features(id: "1000000000000000000") }
        #expect(error.kind == .truncated)
        #expect(error.source == url.path && error.member == "1000000000000000000.npy")
        #expect(error.problem.contains("member's 4294967295 bytes at offset"), "\(error.problem)")
        #expect(error.problem.contains("run past the end of the 1364-byte zip"), "\(error.problem)")
        // The other members are intact and still read.
        #expect(try archive.features(id: "1000000000000000002").frameCount > 0)
    }

    /// fuzz-jpeg-frame, first minute: a frame whose header claims 28276 x 21833 pixels made the decoder
    /// allocate and clear 1.85 GB (the fuzzer's 10 s timeout fired).
    @Test func aJPEGClaimingGiantDimensionsIsRefusedBeforeAllocating() throws {
        let bytes = try Data(contentsOf: try Self.fixture("jpeg_claims_28276x21833.jpg"))
        #expect(try JPEG.dimensions(of: bytes) == (width: 28276, height: 21833))
        let error = try #require(throws: JPEGError.self) { try JPEG.decode(bytes) }
        #expect(error.operation == .readHeader && !error.isWarning)
        #expect(error.message.contains("28276x21833"), "\(error.message)")
        #expect(error.message.contains("over the limit of 67108864 decoded pixels"), "\(error.message)")
    }

    /// A frame member whose central directory entry states a size over ``VideoFrameReader/maximumFrameBytes``
    /// is skipped with an issue (the reader used to reserve that many bytes, up to 4 GiB, for it).
    @Test func aFrameMemberClaimingGigabytesIsSkipped() throws {
        let repositoryFixtures = Self.fixtures.deletingLastPathComponent()
        var zip = [UInt8](try Data(contentsOf: repositoryFixtures.appendingPathComponent("frames/clip_stored.zip")))
        let signature: [UInt8] = [0x50, 0x4B, 0x01, 0x02]
        let entry = try #require((0...(zip.count - 4)).first { Array(zip[$0..<($0 + 4)]) == signature })
        let nameLength = Int(zip[entry + 28]) | Int(zip[entry + 29]) << 8
        let member = String(decoding: zip[(entry + 46)..<(entry + 46 + nameLength)], as: UTF8.self)
        zip.replaceSubrange((entry + 24)..<(entry + 28), with: Self.littleEndian(UInt32(0x7FFF_FFF0)))

        let (folder, _) = try Self.temporaryFile(zip, named: "frames/001/v001.zip")
        defer { try? FileManager.default.removeItem(at: folder) }
        let reader = VideoFrameReader(
            framesDirectory: folder.appendingPathComponent("frames"), maxFrames: 8,
            preprocessing: .clip(size: 16))
        let clip = reader.evaluationClip(videoID: "v001")
        let issue = try #require(clip.issues.first { $0.member == member }, "\(clip.issues)")
        #expect(issue.kind == .unreadableFrame)
        #expect(issue.reason.contains("2147483632 bytes, over the 67108864 a frame may have"), "\(issue.reason)")
        #expect(clip.validFrameCount == 4, "the other four frames still decode")
    }

    /// An end record whose ZIP64 locator points past any possible file offset (above Int64.max) is a
    /// damaged zip, not a trap in the conversion to `off_t`.
    @Test func aZIP64LocatorBeyondAnyOffsetIsAnError() throws {
        let locator = [0x50, 0x4B, 0x06, 0x07] + Self.littleEndian(UInt32(0)) + Self.littleEndian(UInt64.max - 8)
            + Self.littleEndian(UInt32(1))
        let endRecord = [0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0, count: 4) + Self.littleEndian(UInt16(0xFFFF))
            + Self.littleEndian(UInt16(0xFFFF)) + Self.littleEndian(UInt32(0xFFFF_FFFF)) + Self.littleEndian(UInt32(0xFFFF_FFFF))
            + [0, 0]
        let (folder, url) = try Self.temporaryFile(locator + endRecord, named: "features.zip")
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = try #require(throws: FeatureError.self) { try FeatureArchive(url: url) }
        #expect(error.source == url.path)
        #expect(error.problem.contains("while reading 56 bytes at 18446744073709551607"), "\(error.problem)")
    }

    /// An end record claiming more members than its central directory can hold is refused before the
    /// index is sized by the claim.
    @Test func aMemberCountTheDirectoryCannotHoldIsAnError() throws {
        let endRecord = [0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0, count: 4) + Self.littleEndian(UInt16(60000))
            + Self.littleEndian(UInt16(60000)) + Self.littleEndian(UInt32(92)) + Self.littleEndian(UInt32(0)) + [0, 0]
        let (folder, url) = try Self.temporaryFile([UInt8](repeating: 0, count: 92) + endRecord, named: "features.zip")
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = try #require(throws: FeatureError.self) { try FeatureArchive(url: url) }
        #expect(error.kind == .notAZip)
        #expect(error.problem.contains("claims 60000 members, but its 92-byte central directory holds at most 2"), "\(error.problem)")
    }
}
