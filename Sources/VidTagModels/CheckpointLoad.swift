/// What a strict checkpoint load did besides copying every parameter: the keys it ignored and why
/// (buffers computed here, heads of other tasks, aliases, the other tower of a two-tower checkpoint).
public struct CheckpointLoadReport: Sendable, CustomStringConvertible {
    /// Parameters copied.
    public let loaded: Int
    /// Checkpoint key → why it was not loaded.
    public let ignored: [String: String]

    public var description: String {
        let lines = ignored.keys.sorted().map { "  ignored \($0): \(ignored[$0]!)" }
        return (["loaded \(loaded) tensors"] + lines).joined(separator: "\n")
    }
}

/// A checkpoint that does not fit the model: every missing, unexpected and mis-shaped key with both shapes,
/// and a hint of what to do.
public struct CheckpointLoadError: Error, CustomStringConvertible, Sendable {
    public let source: String
    public let problems: [String]
    public let hint: String

    public var description: String {
        let shown = problems.prefix(20).map { "  - \($0)" }.joined(separator: "\n")
        let more = problems.count > 20 ? "\n  … and \(problems.count - 20) more" : ""
        return "cannot load \(source): \(problems.count) problem(s)\n\(shown)\(more)\nhint: \(hint)"
    }
}

public typealias BertLoadReport = CheckpointLoadReport
public typealias BertLoadError = CheckpointLoadError
public typealias FrameEncoderLoadReport = CheckpointLoadReport
public typealias FrameEncoderLoadError = CheckpointLoadError
