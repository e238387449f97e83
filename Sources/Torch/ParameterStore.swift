import CTorch

/// How a new parameter is filled.
public enum Initializer: Sendable {
    case zeros
    case ones
    case constant(Double)
    /// Normal(0, std), as Hugging Face's `_init_weights` (std = initializer_range, 0.02 for BERT).
    case normal(std: Double)
    /// Uniform(-bound, bound).
    case uniform(bound: Double)
    /// PyTorch's default for Linear and Conv2d weights (kaiming_uniform with a = √5): bound 1/√fanIn.
    case pytorchDefault(fanIn: Int)
}

/// A model's parameters under dotted names that are the checkpoint keys (tch-rs's VarStore).
///
/// Each parameter belongs to a group (text encoder, visual side, heads, …) that gets its own learning rate
/// and weight decay, and can be frozen. Loading is strict by default: a missing, unexpected or mis-shaped
/// key is an error naming the key and both shapes.
public final class ParameterStore: @unchecked Sendable {
    public struct Entry: Sendable {
        public let name: String
        public let tensor: Tensor
        public var group: String
        public var trainable: Bool
        /// A buffer is state that is saved and loaded but never trained (e.g. running statistics).
        public let isBuffer: Bool
    }

    public let device: Device
    /// The generator that initialises new parameters (seeded: a seed gives the same model everywhere).
    public let generator: Generator
    public private(set) var names: [String] = []
    private var entries: [String: Entry] = [:]

    public init(device: Device = .cpu, seed: UInt64 = 0) {
        self.device = device
        self.generator = Generator(seed: seed)
    }

    /// The root path; `store.root("encoder")("layer")("0")` builds `encoder.layer.0`.
    public var root: ParameterPath { ParameterPath(store: self, prefix: "", group: "default") }

    /// Creates and registers a parameter.
    func register(_ name: String, shape: [Int], initializer: Initializer, group: String, dtype: DType) -> Tensor {
        precondition(entries[name] == nil, "parameter \(name) registered twice")
        let tensor = Tensor.empty(shape, dtype: dtype, device: device)
        withNoGrad {
            switch initializer {
            case .zeros: tensor.zero_()
            case .ones: tensor.fill_(1)
            case .constant(let value): tensor.fill_(value)
            case .normal(let std): tensor.normal_(mean: 0, std: std, generator: generator)
            case .uniform(let bound): tensor.uniform_(-bound, bound, generator: generator)
            case .pytorchDefault(let fanIn):
                let bound = fanIn > 0 ? 1 / Double(fanIn).squareRoot() : 0
                tensor.uniform_(-bound, bound, generator: generator)
            }
        }
        tensor.requiringGrad(true)
        entries[name] = Entry(name: name, tensor: tensor, group: group, trainable: true, isBuffer: false)
        names.append(name)
        return tensor
    }

    /// Registers a buffer (saved and loaded, never trained).
    func registerBuffer(_ name: String, _ tensor: Tensor, group: String) -> Tensor {
        precondition(entries[name] == nil, "buffer \(name) registered twice")
        let placed = tensor.to(device)
        entries[name] = Entry(name: name, tensor: placed, group: group, trainable: false, isBuffer: true)
        names.append(name)
        return placed
    }

    public subscript(name: String) -> Tensor? { entries[name]?.tensor }
    public func entry(_ name: String) -> Entry? { entries[name] }
    public var count: Int { names.count }

    /// Every parameter and buffer in registration order.
    public var all: [Entry] { names.compactMap { entries[$0] } }

    /// Trainable parameters (not frozen, not buffers), optionally of one group.
    public func trainable(group: String? = nil) -> [Entry] {
        all.filter { !$0.isBuffer && $0.trainable && (group == nil || $0.group == group) }
    }

    /// The groups in first-use order.
    public var groups: [String] {
        var seen: [String] = []
        for entry in all where !seen.contains(entry.group) { seen.append(entry.group) }
        return seen
    }

    /// Total number of parameter elements (buffers excluded).
    public var parameterCount: Int { all.filter { !$0.isBuffer }.reduce(0) { $0 + $1.tensor.count } }

    /// Freezes (or unfreezes) every parameter whose name is `prefix` or starts with `prefix.`.
    public func setTrainable(_ trainable: Bool, prefix: String) {
        for name in names where Self.matches(name, prefix: prefix) {
            guard var entry = entries[name], !entry.isBuffer else { continue }
            entry.trainable = trainable
            entry.tensor.requiringGrad(trainable)
            entries[name] = entry
        }
    }
    public func freeze(prefix: String) { setTrainable(false, prefix: prefix) }
    public func unfreeze(prefix: String) { setTrainable(true, prefix: prefix) }

    /// Moves every parameter whose name matches `prefix` into `group`.
    public func setGroup(_ group: String, prefix: String) {
        for name in names where Self.matches(name, prefix: prefix) { entries[name]?.group = group }
    }

    /// Whether `name` is `prefix` itself or lies under it (`prefix.…`); every name matches "".
    public static func matches(_ name: String, prefix: String) -> Bool {
        prefix.isEmpty || name == prefix || name.hasPrefix(prefix + ".")
    }

    /// Casts every floating-point parameter and buffer to `dtype`, in place (the handles stay the same).
    public func cast(to dtype: DType) {
        withNoGrad {
            for entry in all where entry.tensor.dtype.isFloatingPoint && entry.tensor.dtype != dtype {
                entry.tensor.setData(entry.tensor.detach().to(dtype))
            }
        }
    }

    /// Detached copies of every parameter and buffer, by name.
    public func stateDict() -> [String: Tensor] {
        var state: [String: Tensor] = [:]
        for entry in all { state[entry.name] = entry.tensor.detach() }
        return state
    }

    /// Copies `tensors` into the parameters with the same names.
    /// - strict: every parameter must be given and every given key must be a parameter (the one strict
    ///   loader, `ParameterPath.load`); false loads the given part of a model, an explicit choice.
    /// - Returns: the keys of `tensors` that were not used (empty when strict).
    @discardableResult
    public func load(_ tensors: [String: Tensor], strict: Bool = true, source: String = "checkpoint") throws -> [String] {
        if strict {
            try root.load(tensors, source: source)
            return []
        }
        let unexpected = tensors.keys.filter { entries[$0] == nil }.sorted()
        let problems = tensors.keys.sorted().compactMap { name -> String? in
            guard let entry = entries[name], entry.tensor.shape != tensors[name]!.shape else { return nil }
            return "key \(name): model expects shape \(entry.tensor.shape), \(source) has \(tensors[name]!.shape)"
        }
        guard problems.isEmpty else { throw CheckpointLoadError(source: source, problems: problems) }
        try copyIn(tensors.filter { entries[$0.key] != nil })
        return unexpected
    }

    /// Copies tensors checked by a loader into the parameters of the same names.
    func copyIn(_ tensors: [String: Tensor]) throws {
        try Torch.catching {
            withNoGrad {
                for (name, value) in tensors { entries[name]!.tensor.copy_(value) }
            }
        }
    }

    /// Copies every parameter from another store with the same names and shapes (strict).
    public func copy(from other: ParameterStore) throws {
        try load(other.stateDict(), strict: true, source: "parameter store")
    }
}

/// A position in a `ParameterStore`'s name space: parameters created through it are named
/// `prefix.name` and belong to its group.
public struct ParameterPath: Sendable {
    public let store: ParameterStore
    public let prefix: String
    public let group: String

    /// The sub-path `prefix.component`.
    public func callAsFunction(_ component: String) -> ParameterPath {
        ParameterPath(store: store, prefix: qualified(component), group: group)
    }
    public func callAsFunction(_ index: Int) -> ParameterPath { self(String(index)) }

    /// The same path, whose new parameters go to `group`.
    public func inGroup(_ group: String) -> ParameterPath {
        ParameterPath(store: store, prefix: prefix, group: group)
    }

    public func qualified(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }

    public func parameter(_ name: String, shape: [Int], initializer: Initializer, dtype: DType = .float32) -> Tensor {
        store.register(qualified(name), shape: shape, initializer: initializer, group: group, dtype: dtype)
    }

    public func buffer(_ name: String, _ tensor: Tensor) -> Tensor {
        store.registerBuffer(qualified(name), tensor, group: group)
    }

    public var device: Device { store.device }
}
