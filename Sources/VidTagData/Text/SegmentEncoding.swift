/// One named piece of a model's text input with its own token budget, e.g. a video's title, speech
/// transcript (ASR) or on-screen text (OCR).
public struct TextSegment: Sendable, Equatable {
    /// What the segment is ("title", "asr", "ocr"); used in error messages.
    public var name: String
    public var text: String
    /// Most tokens of `text` kept (the head is kept, the rest cut), not counting the [SEP] after it.
    public var maxTokens: Int

    public init(name: String, text: String, maxTokens: Int) {
        self.name = name
        self.text = text
        self.maxTokens = maxTokens
    }
}

/// Which token type id each segment's tokens get.
public enum TokenTypeScheme: Sendable, Equatable {
    /// 0 everywhere (the WeChat challenge teams' choice).
    case allZero
    /// 0 for [CLS], the first segment and its [SEP], 1 for the second segment and its [SEP], 0 for the
    /// third, … (BERT's sentence-pair convention, extended).
    case alternating
}

/// One encoded model input: `[CLS] segment₁ [SEP] segment₂ [SEP] … segmentₙ [SEP]`.
public struct EncodedText: Sendable, Equatable {
    public var ids: [Int32]
    /// 1 for every token (padding is added only when batching).
    public var attentionMask: [Int32]
    public var tokenTypeIDs: [Int32]
    /// Position range of each segment's own tokens (without its [SEP]), in segment order.
    public var segmentRanges: [Range<Int>]

    public var count: Int { ids.count }

    public init(ids: [Int32], attentionMask: [Int32], tokenTypeIDs: [Int32], segmentRanges: [Range<Int>]) {
        self.ids = ids
        self.attentionMask = attentionMask
        self.tokenTypeIDs = tokenTypeIDs
        self.segmentRanges = segmentRanges
    }
}

extension BertTokenizer {
    /// Encodes segments as `[CLS] s₁ [SEP] s₂ [SEP] … sₙ [SEP]`, each segment truncated to its budget.
    /// Every segment keeps its [SEP], even when its text is empty, so positions of segments are stable;
    /// all-empty input gives `[CLS]` and one `[SEP]` per segment. The WeChat 2022 top teams used
    /// title / asr / ocr with budgets such as 98 / 90 / 68 (OCR texts joined in time order).
    public func encode(segments: [TextSegment], tokenTypes: TokenTypeScheme = .allZero) throws -> EncodedText {
        let special = vocabulary.specialTokenIDs
        var ids: [Int32] = [special.classifier]
        var types: [Int32] = [0]
        var ranges: [Range<Int>] = []
        for (number, segment) in segments.enumerated() {
            guard segment.maxTokens >= 0 else {
                throw TokenizerError.invalidLength(
                    what: "token budget of segment \"\(segment.name)\"", value: segment.maxTokens,
                    expected: "0 or more")
            }
            let start = ids.count
            appendTokenIDs(segment.text, to: &ids)
            if ids.count - start > segment.maxTokens { ids.removeSubrange((start + segment.maxTokens)...) }
            ranges.append(start..<ids.count)
            ids.append(special.separator)
            let type: Int32 = tokenTypes == .alternating ? Int32(number % 2) : 0
            types.append(contentsOf: repeatElement(type, count: ids.count - types.count))
        }
        return EncodedText(
            ids: ids, attentionMask: [Int32](repeating: 1, count: ids.count), tokenTypeIDs: types,
            segmentRanges: ranges)
    }

    /// `[CLS] text [SEP]`, the text cut to `maxLength - 2` tokens when `maxLength` is given (Hugging
    /// Face's `tokenizer(text, truncation=True, max_length=maxLength)`).
    public func encode(_ text: String, maxLength: Int? = nil) throws -> EncodedText {
        if let maxLength, maxLength < 2 {
            throw TokenizerError.invalidLength(
                what: "maxLength", value: maxLength, expected: "at least 2 (room for [CLS] and [SEP])")
        }
        return try encode(segments: [TextSegment(name: "text", text: text, maxTokens: (maxLength ?? Int.max) - 2)])
    }

    /// Pads `rows` into one batch with this vocabulary's [PAD].
    public func collate(_ rows: [EncodedText], padding: BatchPadding = .longest) throws -> TokenBatch {
        try TokenBatch(collating: rows, padding: padding, paddingID: vocabulary.specialTokenIDs.padding)
    }
}

/// How a batch's rows are padded.
public enum BatchPadding: Sendable, Equatable {
    /// To the longest row of the batch.
    case longest
    /// To exactly this many tokens (a longer row is an error).
    case fixed(Int)
}

/// Encoded rows padded to one length: flat row-major buffers of shape [batchSize, sequenceLength],
/// ready to become tensors.
public struct TokenBatch: Sendable, Equatable {
    public let batchSize: Int
    public let sequenceLength: Int
    /// [B, T] token ids, padding id after each row's tokens.
    public let ids: [Int32]
    /// [B, T] 1 for tokens, 0 for padding.
    public let attentionMask: [Int32]
    /// [B, T] token type ids, 0 for padding.
    public let tokenTypeIDs: [Int32]

    /// `[batchSize, sequenceLength]`.
    public var shape: [Int] { [batchSize, sequenceLength] }

    /// Pads `rows` on the right with `paddingID`.
    public init(collating rows: [EncodedText], padding: BatchPadding = .longest, paddingID: Int32) throws {
        let longest = rows.map(\.count).max() ?? 0
        switch padding {
        case .longest:
            sequenceLength = longest
        case .fixed(let length):
            guard length >= 0 else {
                throw TokenizerError.invalidLength(what: "fixed padding length", value: length, expected: "0 or more")
            }
            if let row = rows.firstIndex(where: { $0.count > length }) {
                throw TokenizerError.rowTooLong(row: row, length: rows[row].count, paddedLength: length)
            }
            sequenceLength = length
        }
        batchSize = rows.count
        var ids = [Int32](repeating: paddingID, count: batchSize * sequenceLength)
        var mask = [Int32](repeating: 0, count: batchSize * sequenceLength)
        var types = [Int32](repeating: 0, count: batchSize * sequenceLength)
        for (row, encoded) in rows.enumerated() {
            let offset = row * sequenceLength
            for position in 0..<encoded.count {
                ids[offset + position] = encoded.ids[position]
                mask[offset + position] = encoded.attentionMask[position]
                types[offset + position] = encoded.tokenTypeIDs[position]
            }
        }
        self.ids = ids
        attentionMask = mask
        tokenTypeIDs = types
    }
}
