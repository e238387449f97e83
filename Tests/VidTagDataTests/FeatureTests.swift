import Foundation
import Testing
import ZIPFoundation

@testable import VidTagData

/// Fixtures from scripts/fixtures/make_npy_fixtures.py (NumPy 2.4, Python's zipfile).
private enum NpyFixtures {
    static let directory = FormatTestFiles.fixtures.appendingPathComponent("npy")

    struct Expected: Decodable {
        let rounding_f32_bits_to_f16_bits: [[UInt32]]
        let values: [String: [Float]]
        let shapes: [String: [Int]]
    }

    static let expected: Expected? = try? JSONDecoder().decode(
        Expected.self, from: Data(contentsOf: directory.appendingPathComponent("expected.json")))

    static func data(_ name: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(name)) }
}

/// Writes a feature zip with ZIPFoundation: member i is `{ids[i]}.npy`, deflated when `deflate(i)`.
private func writeFeatureZip(
    _ members: [(id: String, npy: Data)], to url: URL, deflate: (Int) -> Bool = { $0 % 2 == 1 }
) throws {
    let archive = try Archive(url: url, accessMode: .create)
    for (index, member) in members.enumerated() {
        try archive.addEntry(
            with: "\(member.id).npy", type: .file, uncompressedSize: Int64(member.npy.count),
            compressionMethod: deflate(index) ? .deflate : .none,
            provider: { position, size in member.npy.subdata(in: Int(position)..<Int(position) + size) })
    }
}

private func featureMatrix(_ seed: Int, frames: Int, dimension: Int) -> [Float] {
    (0..<(frames * dimension)).map { Float((($0 * 37 + seed * 101) % 997) - 498) / 64 }
}

@Suite("Frame features")
struct FeatureTests {
    @Test func halfDecodingMatchesSwiftFloat16ForAllBitPatterns() {
        #if !(os(macOS) && arch(x86_64))
        for bits in 0...UInt16.max {
            let ours = HalfFloat.float(fromBits: bits), swift = Float(Float16(bitPattern: bits))
            if swift.isNaN { #expect(ours.isNaN && ours.sign == swift.sign, "bits \(bits)") }
            else { #expect(ours.bitPattern == swift.bitPattern, "bits \(bits)") }
        }
        #endif
        #expect(HalfFloat.float(fromBits: 0x0001) == 0x1p-24)
        #expect(HalfFloat.float(fromBits: 0x7BFF) == 65504)
        #expect(HalfFloat.float(fromBits: 0xFC00) == -.infinity)
    }

    @Test func halfEncodingRoundsAsNumPyDoes() throws {
        let pairs = try #require(NpyFixtures.expected).rounding_f32_bits_to_f16_bits
        #expect(pairs.count > 400)
        for pair in pairs {
            let ours = HalfFloat.bits(from: Float(bitPattern: pair[0]))
            #expect(ours == UInt16(pair[1]), "float bits \(String(pair[0], radix: 16))")
        }
        for bits in 0...UInt16.max where bits & 0x7C00 != 0x7C00 {
            #expect(HalfFloat.bits(from: HalfFloat.float(fromBits: bits)) == bits)
        }
        #if !(os(macOS) && arch(x86_64))
        var generator = SplitMix64(seed: 1)
        for _ in 0..<100_000 {
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
            guard !value.isNaN else { continue }
            #expect(HalfFloat.bits(from: value) == Float16(value).bitPattern, "value \(value)")
        }
        #endif
    }

    @Test(arguments: ["f16_v1.npy", "f32_v1.npy", "f32_v2.npy", "f16_v3.npy", "empty_f16.npy"])
    func decodesEveryVersionAndDtype(name: String) throws {
        let expected = try #require(NpyFixtures.expected)
        let features = try Npy.decodeMatrix(try NpyFixtures.data(name), source: name)
        #expect([features.frameCount, features.dimension] == expected.shapes[name])
        #expect(features.values == expected.values[name])
        #expect(features.replacedNonFinite == 0)
    }

    @Test func encoderWritesWhatNumPySaveWrites() throws {
        let half = Npy.encode(values: [0.5, -1.0, 3.140625, 65504, 0x1p-24, 0], shape: [2, 3], dtype: .float16)
        #expect(half == (try NpyFixtures.data("encode_f16_2x3.npy")))
        let single = Npy.encode(values: [0.5, -1.0, 3.14159, 1e-30], shape: [4], dtype: .float32)
        #expect(single == (try NpyFixtures.data("encode_f32_4.npy")))
        let values = featureMatrix(3, frames: 5, dimension: 12)
        for dtype in NpyDType.allCases {
            let decoded = try Npy.decodeMatrix(Npy.encode(values: values, shape: [5, 12], dtype: dtype), source: "memory")
            #expect(decoded == FrameFeatures(values: values, frameCount: 5, dimension: 12))  // all exact in float16
        }
    }

    static let rejected: [(file: String, kind: FeatureError.Kind, fragment: String)] = [
        ("fortran.npy", .fortranOrder, "Fortran (column-major) order"),
        ("object.npy", .objectDType, "Python object array (a pickle)"),
        ("big_endian.npy", .bigEndian, "dtype '>f4' is big-endian"),
        ("rank3.npy", .wrongRank, "shape [3, 2, 4] has rank 3, expected 2"),
        ("rank1.npy", .wrongRank, "shape [24] has rank 1"),
        ("float64.npy", .unsupportedDType, "dtype '<f8'"),
        ("structured.npy", .unsupportedDType, "structured dtype"),
        ("truncated.npy", .truncated, "needs 48 data bytes, found 43"),
        ("nan_f32.npy", .nonFinite, "1 NaN or infinite values, the first at frame 1, column 2"),
        ("inf_f16.npy", .nonFinite, "the first at frame 2, column 1"),
    ]

    @Test(arguments: rejected.indices)
    func badMembersAreRejectedWithTheirProblem(caseIndex: Int) throws {
        let bad = Self.rejected[caseIndex]
        let error = try #require(throws: FeatureError.self) {
            try Npy.decodeMatrix(try NpyFixtures.data(bad.file), source: "feats.zip", member: bad.file)
        }
        #expect(error.kind == bad.kind)
        #expect(error.description.hasPrefix("feats.zip, member \(bad.file): "))
        #expect(error.description.contains(bad.fragment), "\(error)")
        #expect(error.description.contains("Hint: "))
    }

    @Test func otherBadHeadersAreRejected() {
        let notNpy = #expect(throws: FeatureError.self) { try Npy.decodeMatrix(Data("hello world".utf8), source: "x") }
        #expect(notNpy?.kind == .notNpy)
        var future = Npy.encode(values: [1], shape: [1, 1], dtype: .float32)
        future[6] = 4
        #expect((#expect(throws: FeatureError.self) { try Npy.decodeMatrix(future, source: "x") })?.kind == .unsupportedVersion)
        let surplus = Npy.encode(values: [1], shape: [1, 1], dtype: .float32) + Data([0, 0])
        #expect((#expect(throws: FeatureError.self) { try Npy.decodeMatrix(surplus, source: "x") })?.kind == .trailingBytes)
        let wide = Npy.encode(values: [1, 2], shape: [1, 2], dtype: .float16)
        let dimension = #expect(throws: FeatureError.self) { try Npy.decodeMatrix(wide, source: "x", expectedDimension: 768) }
        #expect(dimension?.kind == .wrongDimension && dimension?.description.contains("expected 768") == true)
    }

    @Test func nonFiniteValuesCanBeCountedAndZeroed() throws {
        let nan = try Npy.decodeMatrix(try NpyFixtures.data("nan_f32.npy"), source: "x", nonFinite: .replaceWithZero)
        #expect(nan.replacedNonFinite == 1 && nan.values[10] == 0 && nan.values.allSatisfy(\.isFinite))
        let inf = try Npy.decodeMatrix(try NpyFixtures.data("inf_f16.npy"), source: "x", nonFinite: .replaceWithZero)
        #expect(inf.replacedNonFinite == 1 && inf.values[17] == 0)
    }

    @Test(arguments: ["features_mixed.zip", "features_zip64.zip"])
    func readsZipsWrittenByPython(name: String) throws {
        let expected = try #require(NpyFixtures.expected)
        let archive = try FeatureArchive(url: NpyFixtures.directory.appendingPathComponent(name), verifyStoredChecksums: true)
        #expect(archive.count == 4)
        #expect(archive.ignoredMemberCount == (name == "features_mixed.zip" ? 2 : 0))
        for index in 0..<4 {
            let id = String(1_000_000_000_000_000_000 + index)
            let features = try archive.features(id: id)
            #expect(features.values == expected.values["zip:\(id).npy"])
            #expect(features.frameCount == 3 && features.dimension == 8)
        }
    }

    @Test func manyThreadsReadOneArchiveAtOnce() throws {
        let directory = try FormatTestFiles.temporaryDirectory()
        let url = directory.appendingPathComponent("labeled.zip")
        let members = (0..<64).map { index in
            (id: String(13_477_278_056_527_800_000 as UInt64 + UInt64(index)),
             values: featureMatrix(index, frames: 1 + index % 32, dimension: 24))
        }
        try writeFeatureZip(members.map { ($0.id, Npy.encode(values: $0.values, shape: [$0.values.count / 24, 24], dtype: .float16)) },
                            to: url, deflate: { $0 % 3 == 0 })
        let archive = try FeatureArchive(url: url, expectedDimension: 24)
        let failures = FailureCounter()
        DispatchQueue.concurrentPerform(iterations: 16) { thread in
            for round in 0..<50 {
                let member = members[(thread * 7 + round * 13) % members.count]
                do {
                    let features = try archive.features(id: member.id)
                    if features.values != member.values { failures.add() }
                } catch {
                    failures.add()
                }
            }
        }
        #expect(failures.value == 0)
    }

    @Test func zipProblemsNameTheZipMemberAndProblem() throws {
        let directory = try FormatTestFiles.temporaryDirectory()
        let url = directory.appendingPathComponent("test_a.zip")
        let good = Npy.encode(values: [1, 2, 3, 4], shape: [2, 2], dtype: .float16)
        try writeFeatureZip([("111", good), ("222", try NpyFixtures.data("truncated.npy")), ("333", try NpyFixtures.data("fortran.npy"))],
                            to: url, deflate: { $0 == 1 })
        let archive = try FeatureArchive(url: url)
        #expect(try archive.features(id: "111").values == [1, 2, 3, 4])
        let missing = try #require(throws: FeatureError.self) { try archive.features(id: "999") }
        #expect(missing.kind == .missingMember && missing.description.hasPrefix("\(url.path), member 999.npy: no such member"))
        let truncated = try #require(throws: FeatureError.self) { try archive.features(id: "222") }
        #expect(truncated.kind == .truncated && truncated.description.contains("member 222.npy"))
        let fortran = try #require(throws: FeatureError.self) { try archive.features(id: "333") }
        #expect(fortran.kind == .fortranOrder && fortran.description.contains("\(url.path), member 333.npy"))

        let notZip = try FormatTestFiles.write(String(repeating: "not a zip ", count: 10), named: "x.zip", in: directory)
        let notZipError = try #require(throws: FeatureError.self) { try FeatureArchive(url: notZip) }
        #expect(notZipError.kind == .notAZip && notZipError.description.contains("no end-of-central-directory record"))
        let absent = try #require(throws: FeatureError.self) { try FeatureArchive(url: directory.appendingPathComponent("none.zip")) }
        #expect(absent.kind == .unreadable && absent.description.contains("none.zip"))

        var bytes = try Data(contentsOf: url)
        let cut = directory.appendingPathComponent("cut.zip")
        try bytes.prefix(bytes.count - 30).write(to: cut)
        #expect((#expect(throws: FeatureError.self) { try FeatureArchive(url: cut) })?.kind == .notAZip)

        // Flip bytes inside the deflated member's data: inflating or its CRC-32 must fail.
        let localHeader = try #require(bytes.range(of: Data("222.npy".utf8)))
        for offset in (localHeader.upperBound + 10)..<(localHeader.upperBound + 40) { bytes[offset] ^= 0x5A }
        let corruptURL = directory.appendingPathComponent("corrupt.zip")
        try bytes.write(to: corruptURL)
        let corrupt = try #require(throws: FeatureError.self) { try FeatureArchive(url: corruptURL).features(id: "222") }
        #expect(corrupt.kind == .corruptMember && corrupt.description.contains("member 222.npy"))
    }

    @Test func duplicateMembersAreRefused() throws {
        let url = try FormatTestFiles.temporaryDirectory().appendingPathComponent("dup.zip")
        let archive = try Archive(url: url, accessMode: .create)
        let npy = Npy.encode(values: [1], shape: [1, 1], dtype: .float32)
        for path in ["a/42.npy", "b/42.npy"] {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(npy.count),
                                 provider: { position, size in npy.subdata(in: Int(position)..<Int(position) + size) })
        }
        let error = try #require(throws: FeatureError.self) { try FeatureArchive(url: url) }
        #expect(error.kind == .duplicateMember && error.description.contains("42.npy"))
    }
}

/// A thread-safe counter for the concurrency test.
private final class FailureCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
