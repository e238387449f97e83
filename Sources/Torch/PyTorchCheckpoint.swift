import Foundation

/// A problem with a PyTorch checkpoint (`torch.save` file); names the file and, where it applies, the key.
public struct PyTorchCheckpointError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let key: String?
    public let problem: String

    public var description: String {
        if let key { return "\(path): key '\(key)': \(problem)" }
        return "\(path): \(problem)"
    }
}

/// A PyTorch checkpoint as `torch.save(state_dict, path)` writes it (the `pytorch_model.bin` of Hugging Face
/// repositories), read without Python and without running any of its pickle: a zip archive of stored members
/// `PREFIX/data.pkl` (the pickled state dict), `PREFIX/data/KEY` (one per storage, raw little-endian
/// elements), `PREFIX/byteorder` and `PREFIX/version`. The pickle is interpreted by `PickleMachine` under
/// rules that allow only what a state dict of tensors needs — `collections.OrderedDict`,
/// `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter` and the `torch.*Storage` types
/// named in persistent ids `('storage', type, key, location, numel)` — and refuse every other global with
/// an error naming it. Views (tied weights sharing a storage, transposes, slices) become contiguous copies.
///
/// The whole pickle and every tensor's bounds are checked when the file is opened; tensors are copied out
/// by `tensors()`.
public struct PyTorchCheckpointFile: Sendable {
    /// One tensor of the state dict, as recorded: a strided view of a storage.
    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// The storage's `data/KEY` member.
        public let storageKey: String
        /// Offset and strides in elements, as `torch.Tensor.storage_offset()` / `.stride()` give them.
        public let storageOffset: Int
        public let strides: [Int]
    }

    public let path: String
    /// The state dict's keys, in the file's order.
    public let names: [String]
    public let entries: [String: Entry]
    private let data: Data
    /// Where each tensor's storage lies in the file (by tensor name: a corrupt file may give one storage key
    /// two different sizes, and each tensor was checked against its own).
    private let storages: [String: Range<Int>]

    /// Opens `url` and checks its archive, its pickle and the bounds of every tensor.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw PyTorchCheckpointError(path: url.path, key: nil,
                                         problem: "cannot read the file (\(error.localizedDescription))")
        }
        try self.init(data: data, path: url.path)
    }

    /// Reads a checkpoint held in memory; `path` names it in errors.
    public init(data: Data, path: String) throws {
        func fail(_ problem: String, key: String? = nil) -> PyTorchCheckpointError {
            PyTorchCheckpointError(path: path, key: key, problem: problem)
        }
        let archive: StoredZipArchive = try data.withUnsafeBytes { bytes in
            guard StoredZipArchive.looksLikeZip(bytes) else {
                if bytes.first == 0x80 {
                    throw fail("this is the legacy (PyTorch < 1.6) checkpoint format, which vidtag does not read; "
                        + "re-save it with `torch.save(torch.load(PATH), NEW_PATH, _use_new_zipfile_serialization=True)`")
                }
                throw fail("not a PyTorch checkpoint: torch.save writes a zip archive, this file does not start with one")
            }
            do {
                return try StoredZipArchive(bytes)
            } catch {
                throw fail("corrupt or truncated zip archive: \(error)")
            }
        }

        let pickles = archive.members.filter { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }
        guard pickles.count == 1, let pickle = pickles.first else {
            throw fail(pickles.isEmpty
                ? "the archive has no data.pkl member: not a torch.save checkpoint"
                : "the archive has \(pickles.count) data.pkl members (\(pickles.map(\.name).joined(separator: ", ")))")
        }
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        func contents(_ member: StoredZipArchive.Member) throws -> [UInt8] {
            guard member.method == 0 else {
                throw fail("member \(member.name) is compressed (method \(member.method)); torch.save stores members "
                    + "uncompressed: re-save the checkpoint with torch.save")
            }
            return data.withUnsafeBytes { Array($0[member.range]) }
        }
        if let byteOrder = archive.member(prefix + "byteorder") {
            let order = String(decoding: try contents(byteOrder), as: UTF8.self)
            guard order == "little" else {
                throw fail("storages are \(order)-endian; vidtag reads little-endian checkpoints only")
            }
        }

        let machine = PickleMachine(try contents(pickle), rules: TorchPickleRules(archive: archive, prefix: prefix))
        let records: [(name: String, record: TorchTensorRecord)]
        do {
            records = try machine.run { root in try Self.tensorRecords(root) }
        } catch let error as Problem {
            throw fail(error.description, key: error.key)
        } catch {
            throw fail("\(pickle.name): \(error)")
        }

        var names: [String] = []
        var entries: [String: Entry] = [:]
        var storages: [String: Range<Int>] = [:]
        for (name, record) in records {
            do {
                try record.checkBounds()
            } catch {
                throw fail("\(error)", key: name)
            }
            names.append(name)
            entries[name] = Entry(name: name, dtype: record.storage.dtype, shape: record.shape,
                                  storageKey: record.storage.key, storageOffset: record.storageOffset,
                                  strides: record.strides)
            storages[name] = record.storage.range
        }
        self.path = path
        self.names = names
        self.entries = entries
        self.data = data
        self.storages = storages
    }

    /// A problem with the state dict the pickle built.
    private struct Problem: Error {
        let description: String
        let key: String?
    }

    /// The state dict's tensor records in order; the root must be a flat dict {name: tensor}.
    private static func tensorRecords(_ root: PickleValue) throws -> [(name: String, record: TorchTensorRecord)] {
        guard case .dict(let dict) = root else {
            throw Problem(description: "the pickle holds a value of type \(root.kind), not a state dict {name: tensor}", key: nil)
        }
        var records: [(name: String, record: TorchTensorRecord)] = []
        for (key, value) in zip(dict.keys, dict.values) {
            guard case .string(let name) = key else {
                throw Problem(description: "the state dict has a key of type \(key.kind); tensor names are strings", key: nil)
            }
            guard case .object(let object) = value, let record = object as? TorchTensorRecord else {
                let nested = if case .dict = value {
                    "; vidtag reads a flat state dict {name: tensor} (as pytorch_model.bin files are): save the inner dict"
                } else { "" }
                throw Problem(description: "holds a value of type \(value.kind), not a tensor\(nested)", key: name)
            }
            records.append((name, record))
        }
        return records
    }

    /// A CPU tensor holding a contiguous copy of the named tensor.
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name], let storage = storages[name] else {
            throw PyTorchCheckpointError(path: path, key: name, problem: "no such tensor in the file")
        }
        let tensor = data.withUnsafeBytes { file in
            let storageBytes = UnsafeRawBufferPointer(rebasing: file[storage])
            let elementSize = entry.dtype.byteSize
            if let run = StridedView.contiguousRange(shape: entry.shape, strides: entry.strides,
                                                     offset: entry.storageOffset) {
                let bytes = UnsafeRawBufferPointer(
                    rebasing: storageBytes[(run.lowerBound * elementSize)..<(run.upperBound * elementSize)])
                return Tensor(bytes: bytes, dtype: entry.dtype, shape: entry.shape)
            }
            let copy = StridedView.gather(storageBytes, elementSize: elementSize, shape: entry.shape,
                                          strides: entry.strides, offset: entry.storageOffset)
            return copy.withUnsafeBytes { Tensor(bytes: $0, dtype: entry.dtype, shape: entry.shape) }
        }
        guard tensor.isValid else {
            throw PyTorchCheckpointError(path: path, key: name, problem: "libtorch could not create it")
        }
        return tensor
    }

    /// Every tensor, by name (tensors sharing a storage become separate copies).
    public func tensors() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for name in names { result[name] = try tensor(name) }
        return result
    }
}

public enum PyTorchCheckpoint {
    /// Reads every tensor of a `torch.save` state dict (see `PyTorchCheckpointFile`).
    public static func load(_ url: URL) throws -> [String: Tensor] {
        try PyTorchCheckpointFile(contentsOf: url).tensors()
    }
}

/// The globals a checkpoint's pickle may name: what `torch.save` of a state dict refers to, nothing else.
enum TorchGlobal: Sendable, Hashable, CustomStringConvertible {
    /// `collections.OrderedDict` (the state dict itself, and empty backward-hook tables).
    case orderedDict
    /// `torch._utils._rebuild_tensor_v2`.
    case rebuildTensor
    /// `torch._utils._rebuild_parameter` (an `nn.Parameter` saved as it is).
    case rebuildParameter
    /// `torch._utils._rebuild_parameter_with_state`.
    case rebuildParameterWithState
    /// `torch.<Type>Storage`, naming a storage's element type in persistent ids.
    case storage(DType)

    /// `torch.<Type>Storage` names by element type.
    static let storageNames: [DType: String] = [
        .float32: "FloatStorage", .float16: "HalfStorage", .bfloat16: "BFloat16Storage", .float64: "DoubleStorage",
        .int64: "LongStorage", .int32: "IntStorage", .bool: "BoolStorage", .uint8: "ByteStorage",
    ]

    static let allowed: [TorchGlobal] = [.orderedDict, .rebuildTensor, .rebuildParameter, .rebuildParameterWithState]
        + DType.allCases.filter { storageNames[$0] != nil }.map { .storage($0) }

    init?(module: String, name: String) {
        guard let found = Self.allowed.first(where: { $0.module == module && $0.name == name }) else { return nil }
        self = found
    }

    var module: String {
        switch self {
        case .orderedDict: "collections"
        case .rebuildTensor, .rebuildParameter, .rebuildParameterWithState: "torch._utils"
        case .storage: "torch"
        }
    }

    var name: String {
        switch self {
        case .orderedDict: "OrderedDict"
        case .rebuildTensor: "_rebuild_tensor_v2"
        case .rebuildParameter: "_rebuild_parameter"
        case .rebuildParameterWithState: "_rebuild_parameter_with_state"
        case .storage(let dtype): Self.storageNames[dtype] ?? "UntypedStorage"
        }
    }

    var description: String { "\(module).\(name)" }
}

/// A storage named by a persistent id: its element type and where its `data/KEY` member lies in the file.
struct TorchStorageReference: Sendable, CustomStringConvertible {
    let key: String
    let dtype: DType
    /// Elements in the storage.
    let count: Int
    /// Its bytes in the file.
    let range: Range<Int>

    var description: String { "storage \(key)" }
}

/// What `_rebuild_tensor_v2(storage, storage_offset, size, stride, …)` describes.
struct TorchTensorRecord: Sendable, CustomStringConvertible {
    let storage: TorchStorageReference
    let storageOffset: Int
    let shape: [Int]
    let strides: [Int]

    var description: String { "tensor" }

    /// Checks that every element of the view lies in the storage, and that the view does not repeat storage
    /// elements beyond the storage's size (an `expand`ed view that would multiply the file's size).
    func checkBounds() throws(StridedView.Problem) {
        try StridedView.check(shape: shape, strides: strides, offset: storageOffset, storageCount: storage.count)
    }
}

/// The rules under which a checkpoint's pickle runs: tensor-rebuild records only.
struct TorchPickleRules: PickleRules {
    struct Refusal: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    let archive: StoredZipArchive
    let prefix: String

    func global(module: String, name: String) throws -> PickleValue {
        guard let allowed = TorchGlobal(module: module, name: name) else {
            throw Refusal("refused global \(module).\(name): a checkpoint may refer only to tensor-rebuild records "
                + "(\(TorchGlobal.allowed.map(\.description).joined(separator: ", "))); vidtag never runs pickle code, "
                + "and this file asks for something else: do not load it with torch.load unless you trust where it came from")
        }
        return .object(allowed)
    }

    func persistentLoad(_ id: PickleValue) throws -> PickleValue {
        guard case .tuple(let tuple) = id, tuple.items.count == 5, case .string("storage") = tuple.items[0],
              case .object(let type) = tuple.items[1], case .storage(let dtype) = type as? TorchGlobal,
              case .string(let key) = tuple.items[2], case .string = tuple.items[3],
              case .int(let count) = tuple.items[4], count >= 0
        else {
            throw Refusal("persistent id is a value of type \(id.kind), not ('storage', torch.<Type>Storage, key, location, numel)")
        }
        let name = "\(prefix)data/\(key)"
        guard let member = archive.member(name) else { throw Refusal("storage \(key): no member \(name) in the archive") }
        guard member.method == 0 else {
            throw Refusal("storage \(key): member \(name) is compressed (method \(member.method)); torch.save stores them")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, bytes <= member.range.count else {
            throw Refusal("storage \(key): \(count) elements of \(dtype) need \(count) × \(dtype.byteSize) bytes, "
                + "member \(name) has \(member.range.count): truncated")
        }
        let range = member.range.lowerBound..<(member.range.lowerBound + bytes)
        return .object(TorchStorageReference(key: key, dtype: dtype, count: count, range: range))
    }

    func call(_ callable: PickleValue, arguments: [PickleValue]) throws -> PickleValue {
        guard case .object(let object) = callable, let function = object as? TorchGlobal else {
            throw Refusal("calls a value of type \(callable.kind), which is not callable")
        }
        switch function {
        case .orderedDict:
            guard arguments.isEmpty else { throw Refusal("\(function) called with arguments") }
            return .dict(PickleDict())
        case .rebuildTensor:
            return .object(try rebuildTensor(arguments))
        case .rebuildParameter, .rebuildParameterWithState:
            guard arguments.count >= 3, case .object(let tensor) = arguments[0], tensor is TorchTensorRecord else {
                throw Refusal("\(function) needs (tensor, requires_grad, backward_hooks, …), got \(arguments.count) arguments")
            }
            try checkNoHooks(arguments[2])
            return arguments[0]
        case .storage:
            throw Refusal("\(function) is a storage type, which is only named in persistent ids, never called")
        }
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    private func rebuildTensor(_ arguments: [PickleValue]) throws -> TorchTensorRecord {
        guard arguments.count == 6 || arguments.count == 7, case .object(let object) = arguments[0],
              let storage = object as? TorchStorageReference, case .int(let offset) = arguments[1],
              case .tuple(let size) = arguments[2], case .tuple(let stride) = arguments[3]
        else {
            throw Refusal("\(TorchGlobal.rebuildTensor) needs (storage, offset, size, stride, requires_grad, "
                + "backward_hooks), got (\(arguments.map(\.kind).joined(separator: ", ")))")
        }
        func integers(_ tuple: PickleTuple, _ what: String) throws -> [Int] {
            try tuple.items.map { item in
                guard case .int(let value) = item else { throw Refusal("\(what) holds a value of type \(item.kind), not an int") }
                return value
            }
        }
        try checkNoHooks(arguments[5])
        return TorchTensorRecord(storage: storage, storageOffset: offset, shape: try integers(size, "size"),
                                 strides: try integers(stride, "stride"))
    }

    private func checkNoHooks(_ hooks: PickleValue) throws {
        switch hooks {
        case .none: return
        case .dict(let dict) where dict.keys.isEmpty: return
        default: throw Refusal("tensor carries backward hooks (\(hooks.kind)); a state dict has none")
        }
    }

    /// BUILD sets attributes of the state dict (its `_metadata`, which vidtag does not need); nothing else.
    func build(_ object: PickleValue, state: PickleValue) throws {
        guard case .dict = object, case .dict = state else {
            throw Refusal("BUILD of a value of type \(object.kind) with a value of type \(state.kind): "
                + "only a state dict's attributes may be set")
        }
    }
}
