/// How one checkpoint key is treated by the strict loader.
public enum CheckpointKeyMapping: Equatable, Sendable {
    /// Copied into the parameter of this name (relative to the path loaded into).
    case parameter(String)
    /// Another name for this parameter (a tied or renamed copy the checkpoint may carry): loaded only when no
    /// key maps to the parameter itself, else reported as an ignored alias.
    case alias(of: String)
    /// Deliberately not loaded, for the reason given (reported in `CheckpointLoadReport.ignored`).
    case ignored(String)
}

/// What a strict checkpoint load did: the parameters it copied, the keys it ignored and why (buffers
/// computed here, heads of other tasks, aliases, the other tower of a two-tower checkpoint), and the
/// parameters it was told to leave freshly initialised.
public struct CheckpointLoadReport: Sendable, CustomStringConvertible {
    /// The model's parameters copied from the checkpoint, sorted.
    public let taken: [String]
    /// Checkpoint key → why it was not loaded.
    public let ignored: [String: String]
    /// The model's parameters the checkpoint did not give, kept as initialised (only those the load allowed).
    public let fresh: [String]

    public init(taken: [String], ignored: [String: String], fresh: [String] = []) {
        self.taken = taken
        self.ignored = ignored
        self.fresh = fresh
    }

    /// Parameters copied.
    public var loaded: Int { taken.count }

    public var description: String {
        let lines = ignored.keys.sorted().map { "  ignored \($0): \(ignored[$0]!)" }
            + fresh.map { "  initialised fresh \($0)" }
        return (["loaded \(loaded) tensors"] + lines).joined(separator: "\n")
    }
}

/// A checkpoint that does not fit the model: every missing, unexpected and mis-shaped key with both shapes,
/// and a hint of what to do.
public struct CheckpointLoadError: Error, CustomStringConvertible, Sendable {
    public let source: String
    public let problems: [String]
    public let hint: String

    public static let defaultHint = "the checkpoint must come from the same model type and config; load only part of "
        + "a model with ParameterStore.load(_:strict: false)"

    public init(source: String, problems: [String], hint: String = CheckpointLoadError.defaultHint) {
        self.source = source
        self.problems = problems
        self.hint = hint
    }

    public var description: String {
        let shown = problems.prefix(20).map { "  - \($0)" }.joined(separator: "\n")
        let more = problems.count > 20 ? "\n  … and \(problems.count - 20) more" : ""
        return "cannot load \(source): \(problems.count) problem(s)\n\(shown)\(more)\nhint: \(hint)"
    }
}

extension ParameterPath {
    /// The one strict loader (BERT, the frame encoders and the parameter store all load through it): every
    /// parameter under this path must be given once with its shape, and every key must map to a parameter,
    /// be a declared alias, or be ignored by `mapping` on purpose. Two keys that map to one parameter are a
    /// problem, unless one is declared an alias of it. All problems are reported together, by key, with
    /// both shapes; nothing is copied unless there are none.
    /// - mapping: the model's one renaming table (identity by default).
    /// - fresh: parameters (relative names) the checkpoint may lack, left as initialised and reported (a new
    ///   classifier head over a pretrained encoder); an explicit choice, empty by default.
    /// - hint: what to do, given the problems found.
    @discardableResult
    public func load(_ tensors: [String: Tensor], mapping: (String) -> CheckpointKeyMapping = { .parameter($0) },
                     fresh: (String) -> Bool = { _ in false },
                     source: String, hint: ([String]) -> String = { _ in CheckpointLoadError.defaultHint })
        throws -> CheckpointLoadReport
    {
        let qualifier = prefix.isEmpty ? "" : prefix + "."
        let expected = Set(store.names.filter { $0.hasPrefix(qualifier) }.map { String($0.dropFirst(qualifier.count)) })
        var chosen: [String: String] = [:]  // parameter → checkpoint key
        var aliases: [String: [String]] = [:]
        var ignored: [String: String] = [:]
        var problems: [String] = []
        for key in tensors.keys.sorted() {
            switch mapping(key) {
            case .ignored(let reason):
                ignored[key] = reason
            case .alias(let name):
                aliases[name, default: []].append(key)
            case .parameter(let name):
                if let earlier = chosen[name] {
                    problems.append("keys \(earlier) and \(key) both name parameter \(name)")
                }
                chosen[name] = key
            }
        }
        for (name, keys) in aliases {
            var candidates = keys
            if chosen[name] == nil { chosen[name] = candidates.removeFirst() }
            for key in candidates { ignored[key] = "alias of \(chosen[name]!)" }
        }
        let keptFresh = expected.sorted().filter { chosen[$0] == nil && fresh($0) }
        for name in expected.sorted() where chosen[name] == nil && !fresh(name) {
            problems.append("missing key \(name) (model shape \(store[qualifier + name]!.shape))")
        }
        for name in chosen.keys.sorted() {
            let key = chosen[name]!
            let shape = tensors[key]!.shape
            guard expected.contains(name) else {
                problems.append("unexpected key \(key) (checkpoint shape \(shape)), not a parameter of this model")
                continue
            }
            let modelShape = store[qualifier + name]!.shape
            if modelShape != shape {
                problems.append("key \(key): model expects shape \(modelShape), checkpoint has \(shape)")
            }
        }
        guard problems.isEmpty else { throw CheckpointLoadError(source: source, problems: problems, hint: hint(problems)) }
        var copies: [String: Tensor] = [:]
        for (name, key) in chosen { copies[qualifier + name] = tensors[key]! }
        try store.copyIn(copies)
        return CheckpointLoadReport(taken: chosen.keys.sorted(), ignored: ignored, fresh: keptFresh)
    }

    /// The parameters and buffers under this path, keyed relative to it (as a checkpoint of this part names
    /// them), detached.
    public func checkpointTensors() -> [String: Tensor] {
        let qualifier = prefix.isEmpty ? "" : prefix + "."
        var result: [String: Tensor] = [:]
        for entry in store.all where entry.name.hasPrefix(qualifier) {
            result[String(entry.name.dropFirst(qualifier.count))] = entry.tensor.detach()
        }
        return result
    }
}
