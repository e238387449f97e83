/// What a ``DataLoader`` draws its samples from: one split (``SampleBuilder``) or several served as one
/// (``ConcatenatedSamples``). A sample must depend only on (position, epoch), from any thread.
public protocol SampleSource: Sendable {
    /// Samples served: positions `0 ..< count`.
    var count: Int { get }
    /// The tokenizer's `[PAD]` id, for collating text.
    var paddingID: Int32 { get }
    /// The sample at `position` for `epoch` (the epoch matters only in training); its `position` is this
    /// source's position.
    func sample(at position: Int, epoch: Int) throws -> Sample
}

extension SampleBuilder: SampleSource {
    public var paddingID: Int32 { index.paddingID }
}

/// Several sources served end to end as one: the first's positions, then the second's, and so on. Used to
/// read several splits in one epoch (pretraining over unlabelled + labelled + test videos; labelled videos
/// with pseudo-labelled ones). A sample's `position` is its position in the concatenation.
public struct ConcatenatedSamples: SampleSource {
    public let parts: [any SampleSource]
    /// The concatenation's position of each part's first sample.
    public let starts: [Int]
    public let count: Int
    public let paddingID: Int32

    public init(_ parts: [any SampleSource]) throws {
        guard let first = parts.first else { throw SampleError.invalidSetting("a concatenation needs at least one source") }
        if let other = parts.first(where: { $0.paddingID != first.paddingID }) {
            throw SampleError.invalidSetting(
                "sources pad text with different ids (\(first.paddingID) and \(other.paddingID)): they were tokenized with different vocabularies")
        }
        self.parts = parts
        var starts: [Int] = []
        var total = 0
        for part in parts {
            starts.append(total)
            total += part.count
        }
        self.starts = starts
        count = total
        paddingID = first.paddingID
    }

    /// The part holding concatenation position `position`, and the position within that part.
    public func locate(_ position: Int) -> (part: Int, position: Int) {
        precondition((0..<count).contains(position), "ConcatenatedSamples: position \(position) outside 0..<\(count)")
        var low = 0
        var high = starts.count - 1
        while low < high {  // the last part whose start is at or before `position`
            let middle = (low + high + 1) / 2
            if starts[middle] <= position { low = middle } else { high = middle - 1 }
        }
        return (low, position - starts[low])
    }

    public func sample(at position: Int, epoch: Int) throws -> Sample {
        let (part, local) = locate(position)
        var sample = try parts[part].sample(at: local, epoch: epoch)
        sample.position = position
        return sample
    }
}
