import Foundation
import Testing

@testable import Torch

/// Builds torch.save-like archives byte by byte: stored zip members and hand-written pickles.
enum HandMadeCheckpoint {
    /// A stored zip archive of `members` (name, bytes, compression method written in the headers).
    static func zip(_ members: [(name: String, bytes: [UInt8], method: UInt16)]) -> [UInt8] {
        func le16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF)] }
        func le32(_ value: Int) -> [UInt8] { le16(value & 0xFFFF) + le16((value >> 16) & 0xFFFF) }
        var file: [UInt8] = []
        var directory: [UInt8] = []
        for member in members {
            let name = Array(member.name.utf8)
            let offset = file.count
            let sizes = le32(0) + le32(member.bytes.count) + le32(member.bytes.count)  // crc, compressed, size
            file += le32(0x0403_4b50) + le16(20) + le16(0) + le16(Int(member.method)) + le32(0) + sizes
                + le16(name.count) + le16(0) + name + member.bytes
            directory += le32(0x0201_4b50) + le16(20) + le16(20) + le16(0) + le16(Int(member.method)) + le32(0)
                + sizes + le16(name.count) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + name
        }
        let directoryOffset = file.count
        file += directory
        file += le32(0x0605_4b50) + le16(0) + le16(0) + le16(members.count) + le16(members.count)
            + le32(directory.count) + le32(directoryOffset) + le16(0)
        return file
    }

    /// A checkpoint `archive/…` with `pickle` as data.pkl and the given storages.
    static func checkpoint(pickle: [UInt8], storages: [String: [UInt8]] = [:], byteOrder: String = "little",
                           pickleMethod: UInt16 = 0) -> [UInt8] {
        var members: [(name: String, bytes: [UInt8], method: UInt16)] = [
            ("archive/data.pkl", pickle, pickleMethod), ("archive/byteorder", Array(byteOrder.utf8), 0),
        ]
        for key in storages.keys.sorted() { members.append(("archive/data/\(key)", storages[key]!, 0)) }
        members.append(("archive/version", Array("3\n".utf8), 0))
        return zip(members)
    }

    static func text(_ value: String) -> [UInt8] {
        let bytes = Array(value.utf8)
        return [0x58] + withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { Array($0) } + bytes
    }

    static func small(_ value: Int) -> [UInt8] { [0x4B, UInt8(value)] }  // BININT1

    static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }

    /// `{key: _rebuild_tensor_v2(('storage', torch.<type>, '0', 'cpu', numel), offset, size, stride, False, None)}`.
    static func tensorPickle(key: String = "w", storageType: String = "FloatStorage", numel: Int, offset: Int = 0,
                             size: [Int], stride: [Int]) -> [UInt8] {
        let tupleOf: ([Int]) -> [UInt8] = { values in [0x28] + values.flatMap { small($0) } + [0x74] }
        return [0x80, 0x02, 0x7D, 0x28] + text(key) + global("torch._utils", "_rebuild_tensor_v2") + [0x28, 0x28]
            + text("storage") + global("torch", storageType) + text("0") + text("cpu") + small(numel) + [0x74, 0x51]
            + small(offset) + tupleOf(size) + tupleOf(stride) + [0x89, 0x4E, 0x74, 0x52, 0x75, 0x2E]
    }
}

/// A checkpoint damaged or crafted in one way, with the words its error must contain.
struct BadCheckpoint: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let expectedProblem: String
    var testDescription: String { name }

    static let eightFloats = [UInt8](repeating: 0, count: 32)

    static let cases: [BadCheckpoint] = [
        BadCheckpoint(name: "view past its storage", bytes: HandMadeCheckpoint.checkpoint(
            pickle: HandMadeCheckpoint.tensorPickle(numel: 8, offset: 2, size: [2, 4], stride: [4, 1]),
            storages: ["0": eightFloats]),
            expectedProblem: "key 'w': view (size [2, 4], stride [4, 1], offset 2) reaches element 9 of a storage of 8"),
        BadCheckpoint(name: "expanded view", bytes: HandMadeCheckpoint.checkpoint(
            pickle: HandMadeCheckpoint.tensorPickle(numel: 8, size: [100, 8], stride: [0, 1]),
            storages: ["0": eightFloats]), expectedProblem: "repeats elements of its storage of 8"),
        BadCheckpoint(name: "storage shorter than numel", bytes: HandMadeCheckpoint.checkpoint(
            pickle: HandMadeCheckpoint.tensorPickle(numel: 9, size: [9], stride: [1]),
            storages: ["0": eightFloats]), expectedProblem: "member archive/data/0 has 32: truncated"),
        BadCheckpoint(name: "missing storage", bytes: HandMadeCheckpoint.checkpoint(
            pickle: HandMadeCheckpoint.tensorPickle(numel: 8, size: [8], stride: [1])),
            expectedProblem: "storage 0: no member archive/data/0 in the archive"),
        BadCheckpoint(name: "size and stride of different lengths", bytes: HandMadeCheckpoint.checkpoint(
            pickle: HandMadeCheckpoint.tensorPickle(numel: 8, size: [2, 4], stride: [1]),
            storages: ["0": eightFloats]), expectedProblem: "size [2, 4] and stride [1] have different lengths"),
        BadCheckpoint(name: "storage type without a vidtag dtype", bytes: HandMadeCheckpoint.checkpoint(
            pickle: HandMadeCheckpoint.tensorPickle(storageType: "ComplexFloatStorage", numel: 4, size: [4], stride: [1]),
            storages: ["0": eightFloats]), expectedProblem: "refused global torch.ComplexFloatStorage"),
        BadCheckpoint(name: "big-endian storages", bytes: HandMadeCheckpoint.checkpoint(
            pickle: HandMadeCheckpoint.tensorPickle(numel: 8, size: [8], stride: [1]),
            storages: ["0": eightFloats], byteOrder: "big"), expectedProblem: "storages are big-endian"),
        BadCheckpoint(name: "compressed pickle", bytes: HandMadeCheckpoint.checkpoint(
            pickle: [0x80, 0x02, 0x7D, 0x2E], pickleMethod: 8), expectedProblem: "member archive/data.pkl is compressed (method 8)"),
        BadCheckpoint(name: "root is not a dict", bytes: HandMadeCheckpoint.checkpoint(
            pickle: [0x80, 0x02, 0x5D, 0x2E]), expectedProblem: "the pickle holds a value of type list, not a state dict"),
        BadCheckpoint(name: "nested dict", bytes: HandMadeCheckpoint.checkpoint(
            pickle: [0x80, 0x02, 0x7D] + HandMadeCheckpoint.text("state_dict") + [0x7D, 0x73, 0x2E]),
            expectedProblem: "key 'state_dict': holds a value of type dict, not a tensor; vidtag reads a flat state dict"),
        BadCheckpoint(name: "a value that is not a tensor", bytes: HandMadeCheckpoint.checkpoint(
            pickle: [0x80, 0x02, 0x7D] + HandMadeCheckpoint.text("epoch") + HandMadeCheckpoint.small(3) + [0x73, 0x2E]),
            expectedProblem: "key 'epoch': holds a value of type int, not a tensor"),
        BadCheckpoint(name: "pickle without STOP", bytes: HandMadeCheckpoint.checkpoint(pickle: [0x80, 0x02, 0x7D]),
                      expectedProblem: "the pickle ends at byte 3 without STOP: truncated"),
        BadCheckpoint(name: "opcode torch.save never writes", bytes: HandMadeCheckpoint.checkpoint(
            pickle: [0x80, 0x02, 0x28, 0x69] + Array("os\nsystem\n".utf8) + [0x2E]),
            expectedProblem: "opcode INST (0x69): not an opcode torch.save writes: refused"),
        BadCheckpoint(name: "no data.pkl", bytes: HandMadeCheckpoint.zip([("archive/version", Array("3\n".utf8), 0)]),
                      expectedProblem: "the archive has no data.pkl member"),
        BadCheckpoint(name: "not a zip", bytes: Array("PK but no more".utf8),
                      expectedProblem: "not a PyTorch checkpoint: torch.save writes a zip archive"),
    ]
}

@Suite struct PickleCheckpointTests {
    static let folder = TorchFixtureFiles.repository.appendingPathComponent("Tests/Fixtures/pickle")

    static func fixture(_ name: String) -> URL { folder.appendingPathComponent(name) }

    /// The same state dict pickled with protocol 2 (torch.save's default) and protocol 4.
    @Test(arguments: ["views.bin", "views-protocol4.bin"])
    func viewsOfEveryDtypeEqualPyTorchsContiguousCopies(checkpoint: String) throws {
        let file = try PyTorchCheckpointFile(contentsOf: Self.fixture(checkpoint))
        let expected = try SafeTensorsFile(contentsOf: Self.fixture("views-expected.safetensors"))
        #expect(file.names == [
            "base", "tied", "transposed", "slice", "row", "step", "half", "half_transposed", "bf16", "f64", "i64",
            "i32", "bool", "u8", "scalar", "empty", "param",
        ])
        #expect(Set(file.names) == Set(expected.names))
        let tensors = try file.tensors()
        for name in expected.names {
            let reference = try expected.tensor(name)
            let tensor = try #require(tensors[name], "\(name)")
            #expect(tensor.dtype == reference.dtype, "\(name)")
            #expect(tensor.shape == reference.shape, "\(name)")
            #expect(tensor.rawBytes() == reference.rawBytes(), "\(name)")
        }
    }

    @Test func viewsKeepTheirStorageOffsetAndStrides() throws {
        let file = try PyTorchCheckpointFile(contentsOf: Self.fixture("views.bin"))
        let base = try #require(file.entries["base"])
        let tied = try #require(file.entries["tied"])
        let slice = try #require(file.entries["slice"])
        let transposed = try #require(file.entries["transposed"])
        #expect(tied.storageKey == base.storageKey)
        #expect(slice.storageKey == base.storageKey)
        #expect(slice.storageOffset == 9 && slice.strides == [4, 1] && slice.shape == [3, 2])
        #expect(transposed.strides == [1, 4] && transposed.shape == [4, 6])
        #expect(file.entries["step"]?.strides == [3])
        #expect(file.entries["param"]?.dtype == .float32)
        #expect(file.entries["bf16"]?.dtype == .bfloat16)
    }

    @Test(arguments: [("malicious-global.bin", "os.system"), ("malicious-stack-global.bin", "builtins.exec")])
    func refusesAnyOtherGlobalNamingIt(file: String, global: String) throws {
        let url = Self.fixture(file)
        let error = try #require(throws: PyTorchCheckpointError.self) { try PyTorchCheckpointFile(contentsOf: url) }
        #expect(error.path == url.path)
        #expect(error.description.contains("refused global \(global)"), "\(error)")
    }

    @Test func refusesTheLegacyFormatSayingHowToResave() throws {
        let error = try #require(throws: PyTorchCheckpointError.self) {
            try PyTorchCheckpointFile(contentsOf: Self.fixture("legacy.bin"))
        }
        #expect(error.description.contains("legacy (PyTorch < 1.6) checkpoint format"))
        #expect(error.description.contains("_use_new_zipfile_serialization=True"))
    }

    @Test(arguments: BadCheckpoint.cases)
    func badCheckpointIsAClearError(_ bad: BadCheckpoint) throws {
        let error = try #require(throws: PyTorchCheckpointError.self) {
            try PyTorchCheckpointFile(data: Data(bad.bytes), path: "bad.bin")
        }
        #expect(error.description.contains(bad.expectedProblem), "\(error)")
        #expect(error.description.hasPrefix("bad.bin: "))
    }

    @Test func handMadeCheckpointReadsAsWritten() throws {
        let floats: [Float] = [0, 1, 2, 3, 4, 5, 6, 7]
        let bytes = floats.withUnsafeBytes { Array($0) }
        let data = HandMadeCheckpoint.checkpoint(
            pickle: HandMadeCheckpoint.tensorPickle(numel: 8, offset: 1, size: [2, 3], stride: [1, 2]),
            storages: ["0": bytes])
        let file = try PyTorchCheckpointFile(data: Data(data), path: "made.bin")
        let tensor = try file.tensor("w")
        #expect(tensor.shape == [2, 3])
        #expect(tensor.toArray(Float.self) == [1, 3, 5, 2, 4, 6])
    }

    @Test func everyTruncationIsAnError() throws {
        let whole = try Data(contentsOf: Self.fixture("views.bin"))
        var lengths = Array(stride(from: 0, to: whole.count, by: 61))
        lengths += (1...40).map { whole.count - $0 }
        for length in lengths {
            #expect(throws: PyTorchCheckpointError.self, "\(length) of \(whole.count) bytes") {
                try PyTorchCheckpointFile(data: whole.prefix(length), path: "cut.bin")
            }
        }
    }

    /// Every byte of the pickle and of the zip directory changed, one at a time: each result is a checkpoint or a
    /// `PyTorchCheckpointError`, never a crash, and most changes are caught.
    @Test func corruptedBytesNeverCrash() throws {
        let whole = [UInt8](try Data(contentsOf: Self.fixture("views.bin")))
        let archive = try whole.withUnsafeBytes { try StoredZipArchive($0) }
        let pickle = try #require(archive.member("views/data.pkl")).range
        let directoryStart = try #require(archive.members.last).range.upperBound
        var errors = 0
        var trials = 0
        for position in Array(pickle) + Array(directoryStart..<whole.count) {
            for value: UInt8 in [0xFF, whole[position] ^ 0x01] where value != whole[position] {
                var bytes = whole
                bytes[position] = value
                trials += 1
                do {
                    _ = try PyTorchCheckpointFile(data: Data(bytes), path: "corrupt.bin").tensors()
                } catch is PyTorchCheckpointError {
                    errors += 1
                }
            }
        }
        #expect(trials > 4000)
        #expect(errors > trials / 2, "\(errors) errors in \(trials) trials")
    }

    @Test func machineRefusesDeepTuplesAndEmptyStacks() throws {
        struct NoGlobals: PickleRules {
            struct Refused: Error {}
            func global(module: String, name: String) throws -> PickleValue { throw Refused() }
            func persistentLoad(_ id: PickleValue) throws -> PickleValue { throw Refused() }
            func call(_ callable: PickleValue, arguments: [PickleValue]) throws -> PickleValue { throw Refused() }
            func build(_ object: PickleValue, state: PickleValue) throws { throw Refused() }
        }
        let deep: [UInt8] = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: 10_000) + [0x2E]
        #expect(throws: PickleMachine.Problem.self) { try PickleMachine(deep, rules: NoGlobals()).run { $0 } }
        let tooFew: [UInt8] = [0x80, 0x02, 0x4E, 0x86, 0x2E]
        let error = try #require(throws: PickleMachine.Problem.self) { try PickleMachine(tooFew, rules: NoGlobals()).run { $0 } }
        #expect(error.description.contains("byte 3, opcode TUPLE2 (0x86): pops an empty stack"))
        let lists: [UInt8] = [0x80, 0x02, 0x5D] + [UInt8](repeating: 0x5D, count: 1) + [0x61, 0x2E]
        let count = try PickleMachine(lists, rules: NoGlobals()).run { value -> Int? in
            guard case .list(let outer) = value else { return nil }
            return outer.items.count
        }
        #expect(count == 1)
    }
}
