import Foundation
import Testing

@testable import Torch

/// A safetensors file damaged in one way, with the words its error must contain.
struct CorruptSafeTensors: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let expectedProblem: String
    /// The tensor the message must name, nil for problems of the whole file.
    let tensor: String?

    var testDescription: String { name }

    /// 8-byte little-endian header length (the real one unless `declaredLength`), the header, the data.
    static func file(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        let json = Array(header.utf8)
        let length = declaredLength ?? UInt64(json.count)
        return withUnsafeBytes(of: length.littleEndian) { Array($0) } + json + data
    }

    static let sixteenBytes = [UInt8](repeating: 7, count: 16)
    static let valid = file(
        header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
        data: sixteenBytes)

    static let cases: [CorruptSafeTensors] = [
        CorruptSafeTensors(name: "truncated data", bytes: Array(valid.dropLast(4)),
                           expectedProblem: "data_offsets [8, 16] out of range (data section is 12 bytes)", tensor: "b"),
        CorruptSafeTensors(name: "truncated before the header length", bytes: [1, 0, 0, 0, 0],
                           expectedProblem: "file is 5 bytes, too short for the 8-byte header length", tensor: nil),
        CorruptSafeTensors(name: "header length past the end",
                           bytes: file(header: #"{}"#, data: sixteenBytes, declaredLength: 1000),
                           expectedProblem: "header length 1000 runs past the end of the file (26 bytes)", tensor: nil),
        CorruptSafeTensors(name: "absurd header length", bytes: file(header: #"{}"#, data: [], declaredLength: .max),
                           expectedProblem: "header length 18446744073709551615 exceeds the 100000000-byte limit", tensor: nil),
        CorruptSafeTensors(name: "header length one past the reference's limit",
                           bytes: file(header: #"{}"#, data: [], declaredLength: 100_000_001),
                           expectedProblem: "header length 100000001 exceeds the 100000000-byte limit", tensor: nil),
        CorruptSafeTensors(
            name: "gap between tensors",
            bytes: file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#,
                        data: sixteenBytes + [1, 2, 3, 4]),
            expectedProblem: "data_offsets begin at 12, leaving bytes 8..<12 after tensor 'a' unused (a gap)", tensor: "b"),
        CorruptSafeTensors(
            name: "gap before the first tensor",
            bytes: file(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}}"#, data: sixteenBytes),
            expectedProblem: "data_offsets begin at 4, leaving bytes 0..<4 at the start of the data section unused", tensor: "a"),
        CorruptSafeTensors(
            name: "bytes after the last tensor",
            bytes: file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
                        data: sixteenBytes + [1, 2, 3, 4]),
            expectedProblem: "4 bytes at the end of the 20-byte data section belong to no tensor (the last tensor, 'b', ends at 16)",
            tensor: nil),
        CorruptSafeTensors(
            name: "data but no tensors", bytes: file(header: #"{"__metadata__":{"k":"v"}}"#, data: sixteenBytes),
            expectedProblem: "16 bytes at the end of the 16-byte data section belong to no tensor (there are no tensors)",
            tensor: nil),
        CorruptSafeTensors(
            name: "one tensor inside another",
            bytes: file(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}"#,
                        data: sixteenBytes),
            expectedProblem: "data overlaps tensor 'a' (0..<16 and 4..<8)", tensor: "b"),
        CorruptSafeTensors(
            name: "overlapping offsets",
            bytes: file(header: #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"I32","shape":[2],"data_offsets":[8,16]}}"#,
                        data: sixteenBytes),
            expectedProblem: "data overlaps tensor 'a'", tensor: "b"),
        CorruptSafeTensors(
            name: "offsets out of range",
            bytes: file(header: #"{"w":{"dtype":"U8","shape":[400],"data_offsets":[0,400]}}"#, data: sixteenBytes),
            expectedProblem: "data_offsets [0, 400] out of range (data section is 16 bytes)", tensor: "w"),
        CorruptSafeTensors(
            name: "offsets reversed",
            bytes: file(header: #"{"w":{"dtype":"U8","shape":[0],"data_offsets":[9,8]}}"#, data: sixteenBytes),
            expectedProblem: "data_offsets [9, 8] out of range", tensor: "w"),
        CorruptSafeTensors(
            name: "unknown dtype",
            bytes: file(header: #"{"w":{"dtype":"F8_E4M3","shape":[16],"data_offsets":[0,16]}}"#, data: sixteenBytes),
            expectedProblem: "unknown dtype F8_E4M3 (vidtag reads BF16, BOOL, F16, F32, F64, I32, I64, U8)", tensor: "w"),
        CorruptSafeTensors(
            name: "shape and byte count disagree",
            bytes: file(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#, data: sixteenBytes),
            expectedProblem: "shape [3] of F32 needs 12 bytes, data_offsets give 16", tensor: "w"),
        CorruptSafeTensors(name: "header not JSON", bytes: file(header: #"{"w": {dtype}"#, data: sixteenBytes),
                           expectedProblem: "header is not valid JSON", tensor: nil),
        CorruptSafeTensors(name: "header a JSON list", bytes: file(header: #"[1, 2]"#, data: []),
                           expectedProblem: "header is not a JSON object", tensor: nil),
        CorruptSafeTensors(
            name: "negative dimension",
            bytes: file(header: #"{"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}"#, data: sixteenBytes),
            expectedProblem: "shape is not a list of non-negative integers", tensor: "w"),
        CorruptSafeTensors(
            name: "fractional dimension",
            bytes: file(header: #"{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, data: sixteenBytes),
            expectedProblem: "shape is not a list of non-negative integers", tensor: "w"),
        CorruptSafeTensors(
            name: "shape whose byte count overflows",
            bytes: file(header: #"{"w":{"dtype":"F32","shape":[2305843009213693952,4],"data_offsets":[0,8]}}"#,
                        data: sixteenBytes),
            expectedProblem: "shape [2305843009213693952, 4] of F32 needs more than 9223372036854775807 bytes", tensor: "w"),
        CorruptSafeTensors(
            name: "offset beyond any integer",
            bytes: file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,1e30]}}"#, data: sixteenBytes),
            expectedProblem: "data_offsets is not [begin, end]", tensor: "w"),
        CorruptSafeTensors(
            name: "fractional offset",
            bytes: file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0.5,8.5]}}"#, data: sixteenBytes),
            expectedProblem: "data_offsets is not [begin, end]", tensor: "w"),
        CorruptSafeTensors(
            name: "missing dtype", bytes: file(header: #"{"w":{"shape":[4],"data_offsets":[0,16]}}"#, data: sixteenBytes),
            expectedProblem: "no dtype", tensor: "w"),
        CorruptSafeTensors(
            name: "metadata not strings",
            bytes: file(header: #"{"__metadata__":{"epoch":3}}"#, data: []),
            expectedProblem: "__metadata__.epoch is not a string", tensor: nil),
    ]
}

@Suite("safetensors reading and writing")
struct SafeTensorsTests {
    let reference: TorchReference.SafeTensorsReference

    init() throws { reference = try TorchReference.shared.safetensors }
    static let torchDtypeNames: [String: DType] = [
        "float32": .float32, "float16": .float16, "bfloat16": .bfloat16, "float64": .float64, "int64": .int64,
        "int32": .int32, "bool": .bool, "uint8": .uint8,
    ]

    @Test("round trip", arguments: DType.allCases)
    func roundTrip(dtype: DType) throws {
        let folder = try TorchFixtureFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("round-trip.safetensors")
        let original = f64([0, 1, -2, 3.5, 100, 0.25], [2, 3]).to(dtype)
        let column = f64([1, 2, 3, 4, 5, 6], [3, 2]).to(dtype).transpose(0, 1)
        try SafeTensors.save(["x": original, "model.column": column, "empty": Tensor.zeros([0, 4], dtype: dtype)],
                             metadata: ["dtype": dtype.description], to: url)

        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.names == ["empty", "model.column", "x"])
        #expect(file.metadata == ["dtype": dtype.description])
        let x = try file.tensor("x")
        #expect(x.dtype == dtype && x.shape == [2, 3])
        #expect(x.rawBytes() == original.rawBytes())
        let transposed = try file.tensor("model.column")
        #expect(transposed.shape == [2, 3])
        #expect(transposed.toArray(Double.self) == column.toArray(Double.self), "a non-contiguous tensor is saved in order")
        #expect(try file.tensor("empty").shape == [0, 4])
        let all = try SafeTensors.load(url)
        #expect(Set(all.keys) == ["empty", "model.column", "x"])
    }

    @Test func readsAFileWrittenByThePythonPackage() throws {
        let url = TorchFixtureFiles.folder.appendingPathComponent("python_written.safetensors")
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.metadata == reference.metadata)
        #expect(file.names == reference.tensors.keys.sorted())
        for (name, expected) in reference.tensors {
            let tensor = try file.tensor(name)
            #expect(tensor.dtype == Self.torchDtypeNames[expected.dtype], "\(name)")
            #expect(tensor.shape == expected.shape, "\(name)")
            #expect(tensor.toArray(Double.self) == expected.values, "\(name)")
        }
        #expect(try file.tensor("i64").toArray(Int64.self) == [-(1 << 40), 7, 0])
    }

    /// The writer's exact bytes for the Python file's tensors. The committed copy is what
    /// make_torch_fixtures.py checks with the Python `safetensors` package; VIDTAG_REGENERATE_FIXTURES=1
    /// rewrites it.
    @Test func writesTheBytesThePythonPackageWasCheckedAgainst() throws {
        let source = try SafeTensors.load(TorchFixtureFiles.folder.appendingPathComponent("python_written.safetensors"))
        let committed = TorchFixtureFiles.folder.appendingPathComponent("swift_written.safetensors")
        let folder = try TorchFixtureFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let regenerate = ProcessInfo.processInfo.environment["VIDTAG_REGENERATE_FIXTURES"] == "1"
        let url = regenerate ? committed : folder.appendingPathComponent("swift_written.safetensors")
        try SafeTensors.save(source, metadata: ["writer": "vidtag", "source": "python_written.safetensors"], to: url)

        let written = try Data(contentsOf: url)
        #expect(written == (try Data(contentsOf: committed)),
                "the writer's output changed: check it with make_torch_fixtures.py after VIDTAG_REGENERATE_FIXTURES=1")
        let headerLength = written.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        #expect(headerLength % 8 == 0, "the header is padded to 8 bytes")
        let reread = try SafeTensors.load(url)
        for (name, tensor) in source {
            #expect(reread[name]?.rawBytes() == tensor.rawBytes(), "\(name)")
            #expect(reread[name]?.dtype == tensor.dtype)
        }
    }

    @Test(arguments: CorruptSafeTensors.cases)
    func rejectsCorruption(_ corrupt: CorruptSafeTensors) throws {
        let folder = try TorchFixtureFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("damaged.safetensors")
        try Data(corrupt.bytes).write(to: url)
        let error = try #require(throws: SafeTensorsError.self) { try SafeTensorsFile(contentsOf: url) }
        #expect(error.path == url.path)
        #expect(error.tensor == corrupt.tensor)
        #expect(error.problem.contains(corrupt.expectedProblem), "\(error.problem)")
        #expect(error.description.hasPrefix(url.path))
        if let tensor = corrupt.tensor { #expect(error.description.contains("tensor '\(tensor)'")) }
    }

    @Test func theValidBaseOfTheCorruptionCasesReads() throws {
        let folder = try TorchFixtureFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("valid.safetensors")
        try Data(CorruptSafeTensors.valid).write(to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.names == ["a", "b"])
        #expect(file.entries["b"]?.range == 8..<16)
    }

    @Test func parsesFromMemoryNamingTheGivenPath() throws {
        let file = try SafeTensorsFile(data: Data(CorruptSafeTensors.valid), path: "in-memory.safetensors")
        #expect(file.names == ["a", "b"] && file.path == "in-memory.safetensors")
        #expect(try file.tensor("b").rawBytes() == [UInt8](repeating: 7, count: 8))
        // A slice whose indices do not start at 0 (as `Data` cut out of a larger buffer) reads the same.
        let padded = Data([0xAA, 0xBB, 0xCC] + CorruptSafeTensors.valid)
        let slice = try SafeTensorsFile(data: padded[3...], path: "slice.safetensors")
        #expect(try slice.tensor("a").rawBytes() == [UInt8](repeating: 7, count: 8))
        let error = try #require(throws: SafeTensorsError.self) {
            try SafeTensorsFile(data: Data(CorruptSafeTensors.valid.dropLast(4)), path: "cut.safetensors")
        }
        #expect(error.description.hasPrefix("cut.safetensors: tensor 'b':"))
    }

    @Test func emptyTensorsMayShareAnOffset() throws {
        let bytes = CorruptSafeTensors.file(
            header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[8,8]},"f":{"dtype":"I64","shape":[0],"data_offsets":[8,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
            data: CorruptSafeTensors.sixteenBytes)
        let file = try SafeTensorsFile(data: Data(bytes), path: "empties.safetensors")
        #expect(file.names == ["a", "b", "e", "f"])
        #expect(try file.tensor("e").shape == [0, 3])
    }

    @Test func missingFilesAndTensorsAreNamed() throws {
        let folder = try TorchFixtureFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = folder.appendingPathComponent("absent.safetensors")
        let error = try #require(throws: SafeTensorsError.self) { try SafeTensorsFile(contentsOf: missing) }
        #expect(error.description.contains(missing.path) && error.problem.contains("cannot read"))

        let url = folder.appendingPathComponent("one.safetensors")
        try SafeTensors.save(["kept": Tensor.ones([2])], to: url)
        let lookup = try #require(throws: SafeTensorsError.self) { try SafeTensorsFile(contentsOf: url).tensor("lost") }
        #expect(lookup.tensor == "lost" && lookup.problem == "no such tensor in the file")
    }

    @Test func refusesToSaveAnInvalidTensorAndKeepsTheOldFile() throws {
        let folder = try TorchFixtureFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.safetensors")
        try SafeTensors.save(["w": Tensor.ones([3])], to: url)
        let before = try Data(contentsOf: url)
        let error = try #require(throws: SafeTensorsError.self) {
            try SafeTensors.save(["w": Tensor.ones([3]), "broken": Tensor(handle: nil)], to: url)
        }
        #expect(error.tensor == "broken" && error.problem.contains("invalid"))
        #expect(try Data(contentsOf: url) == before)
    }

    @Test func atomicWritesLeaveTheOldFileOnFailure() throws {
        let folder = try TorchFixtureFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("state.json")
        try AtomicFile.write(Data("old".utf8), to: url)
        struct Interrupted: Error {}
        #expect(throws: Interrupted.self) {
            try AtomicFile.write(to: url) { handle in
                try handle.write(contentsOf: Data("half of the new".utf8))
                throw Interrupted()
            }
        }
        #expect(try String(contentsOf: url, encoding: .utf8) == "old")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["state.json"],
                "no temporary file is left behind")
        try AtomicFile.write(Data("new".utf8), to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == "new")

        let nowhere = folder.appendingPathComponent("no/such/folder/state.json")
        let error = try #require(throws: SafeTensorsError.self) { try AtomicFile.write(Data(), to: nowhere) }
        #expect(error.description.contains("no/such/folder"))
    }
}
