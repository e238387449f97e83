import VidTagData

// The random choices of the pretraining tasks, made on the host at batch time from generators fixed by
// (seed, epoch, batch): a resumed run makes the same choices, and nothing waits for the device.

extension SplitMix64 {
    /// A uniform double in [0, 1) from the top 53 bits.
    mutating func unitInterval() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// Masked language modelling's choice, as Hugging Face's `DataCollatorForLanguageModeling`: each position
/// that is neither a special token nor padding is chosen with `probability`; a chosen position becomes
/// `[MASK]` (80 %), a random token of the vocabulary (10 %) or stays (10 %), and is labelled with its
/// original id; every other position is labelled -100 (ignored by the loss).
public struct MaskedTokens: Sendable, Equatable {
    /// `[B, T]` the input ids after masking.
    public var ids: [Int32]
    /// `[B, T]` the original id where chosen, -100 elsewhere.
    public var labels: [Int32]
    /// Row-major positions chosen, ascending.
    public var chosen: [Int]

    public static let ignored: Int32 = -100

    /// - special: ids never chosen (`[CLS]`, `[SEP]`, `[PAD]`, `[MASK]`, `[UNK]`: the tokenizer's specials).
    public init(_ text: TokenBatch, probability: Double, special: Set<Int32>, maskID: Int32, vocabularySize: Int,
                generator: inout SplitMix64) {
        ids = text.ids
        labels = [Int32](repeating: Self.ignored, count: text.ids.count)
        chosen = []
        for position in text.ids.indices {
            let id = text.ids[position]
            guard text.attentionMask[position] != 0, !special.contains(id) else { continue }
            guard generator.unitInterval() < probability else { continue }
            chosen.append(position)
            labels[position] = id
            let replacement = generator.unitInterval()
            if replacement < 0.8 {
                ids[position] = maskID
            } else if replacement < 0.9 {
                ids[position] = Int32(generator.uniform(below: vocabularySize))
            }
        }
    }
}

/// Masked frame modelling's choice (UniBERT): each real frame is chosen with `probability`; chosen frames
/// are zeroed in the input and must be recognised among the batch's real frames.
public struct MaskedFrames: Sendable, Equatable {
    /// Row-major `[B, F]` positions chosen, ascending (real frames only).
    public var chosen: [Int]

    /// - frameMask: `[B, F]`, 1 for a real frame.
    public init(frameMask: [Int32], probability: Double, generator: inout SplitMix64) {
        chosen = frameMask.indices.filter { frameMask[$0] != 0 && generator.unitInterval() < probability }
    }
}

/// Video–text matching's pairs: each row keeps its own frames, or with `probability` (when the batch has
/// another row) takes the frames of another row, drawn uniformly among the others, so that a negative is
/// never its own pair.
public struct VideoTextPairs: Sendable, Equatable {
    /// For each row, the row whose frames it gets.
    public var frameSource: [Int]

    /// Whether row `row` keeps its own frames.
    public func matches(_ row: Int) -> Bool { frameSource[row] == row }
    /// The rows that keep their own frames.
    public var matchedRows: [Int] { frameSource.indices.filter(matches) }

    public init(rows: Int, probability: Double, generator: inout SplitMix64) {
        frameSource = (0..<rows).map { row in
            guard rows > 1, generator.unitInterval() < probability else { return row }
            let other = generator.uniform(below: rows - 1)
            return other >= row ? other + 1 : other
        }
    }
}
