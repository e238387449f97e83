import Foundation

/// Token budgets of a video's three text fields, in the order they are fed: title, asr, ocr (OCR texts
/// joined in time order). The defaults are those of a WeChat 2022 top team (98 / 90 / 68 tokens; with
/// [CLS] and three [SEP], 260 tokens at most).
public struct TextBudgets: Sendable, Equatable, Codable {
    public var title: Int
    public var asr: Int
    public var ocr: Int

    public init(title: Int = 98, asr: Int = 90, ocr: Int = 68) {
        self.title = title
        self.asr = asr
        self.ocr = ocr
    }

    /// The longest encoded text: [CLS] + three segments each followed by [SEP].
    public var maxSequenceLength: Int { 1 + title + asr + ocr + 3 }
}

/// A split's videos in annotation-file order, as the loader keeps them in memory: id, label index and
/// the already tokenized, already truncated text (`[CLS] title [SEP] asr [SEP] ocr [SEP]`). Frames and
/// features are not held; they are read per sample. Memory is this index and nothing more per video.
public struct VideoIndex: Sendable {
    /// Video ids in file order.
    public let ids: [String]
    /// Level-2 class index per video, -1 when the record has no `category_id` (or no label space was given).
    public let labels: [Int32]
    /// What reading the annotation file met (bad records skipped and counted).
    public let annotationReport: AnnotationReport
    /// The token type scheme the texts were encoded with.
    public let tokenTypes: TokenTypeScheme
    /// The tokenizer's [PAD] id, for collating.
    public let paddingID: Int32

    /// Every video's token ids end to end, 16-bit when the vocabulary allows.
    let tokens: TokenStorage
    /// Where video `i`'s ids start in `tokens` (`count + 1` entries, the last the total).
    private let tokenOffsets: [UInt32]
    /// Three segment lengths (title, asr, ocr) per video.
    private let segmentLengths: [UInt16]

    /// Number of videos.
    public var count: Int { ids.count }
    /// Token ids held for all videos, and the bytes each takes (2, or 4 for a vocabulary over 65,536 entries).
    public var tokenCount: Int { tokens.count }
    public var tokenWidth: Int { tokens.width }

    /// Reads `annotations/{split}.json` of `dataRoot`, tokenizing each record with `tokenizer` within
    /// `budgets`. With `labelSpace`, `category_id`s become class indices and an unknown id is a bad record.
    /// Bad records are skipped and counted (`.skip`) or thrown (`.stop`).
    public init(
        dataRoot: DataRoot, split: String, tokenizer: BertTokenizer, budgets: TextBudgets = TextBudgets(),
        tokenTypes: TokenTypeScheme = .allZero, labelSpace: LabelSpace? = nil, badRecords: BadRecordPolicy = .skip
    ) throws {
        guard budgets.title >= 0, budgets.asr >= 0, budgets.ocr >= 0, max(budgets.title, budgets.asr, budgets.ocr) <= Int(UInt16.max) else {
            throw SampleError.invalidSetting("text budgets \(budgets) must lie within 0...65535 tokens each")
        }
        let reader = AnnotationReader(url: try dataRoot.annotationsURL(split: split), labelSpace: labelSpace, policy: badRecords)
        var ids: [String] = []
        var labels: [Int32] = []
        var storage = TokenStorage(vocabularySize: tokenizer.vocabulary.count)
        var offsets: [UInt32] = [0]
        var lengths: [UInt16] = []
        let report = try reader.forEach { record in
            let encoded = try Self.encodeText(of: record, tokenizer: tokenizer, budgets: budgets, tokenTypes: tokenTypes)
            ids.append(record.id)
            labels.append(Int32(record.categoryId.flatMap { labelSpace?.level2Index(of: $0) } ?? -1))
            storage.append(encoded.ids)
            guard storage.count <= Int(UInt32.max) else {
                throw SampleError.invalidSetting("split '\(split)' has over \(UInt32.max) tokens in all, more than the index holds")
            }
            offsets.append(UInt32(storage.count))
            lengths += encoded.segmentRanges.map { UInt16($0.count) }
        }
        self.init(ids: ids, labels: labels, tokens: storage, tokenOffsets: offsets, segmentLengths: lengths,
                  tokenTypes: tokenTypes, paddingID: tokenizer.vocabulary.specialTokenIDs.padding, annotationReport: report)
    }

    init(ids: [String], labels: [Int32], tokens: TokenStorage, tokenOffsets: [UInt32], segmentLengths: [UInt16],
         tokenTypes: TokenTypeScheme, paddingID: Int32, annotationReport: AnnotationReport) {
        self.paddingID = paddingID
        self.ids = ids
        self.labels = labels
        self.tokens = tokens
        self.tokenOffsets = tokenOffsets
        self.segmentLengths = segmentLengths
        self.tokenTypes = tokenTypes
        self.annotationReport = annotationReport
    }

    /// The label index of video `position`, or nil when it has none.
    public func label(at position: Int) -> Int? { labels[position] < 0 ? nil : Int(labels[position]) }

    /// The encoded text of video `position`: ids, an all-ones attention mask, token types, segment ranges.
    public func text(at position: Int) -> EncodedText {
        let ids = tokens.ids(Int(tokenOffsets[position])..<Int(tokenOffsets[position + 1]))
        var types = [Int32](repeating: 0, count: ids.count)
        var ranges: [Range<Int>] = []
        var start = 1
        for segment in 0..<3 {
            let length = Int(segmentLengths[position * 3 + segment])
            ranges.append(start..<(start + length))
            if tokenTypes == .alternating {
                for slot in start...(start + length) { types[slot] = Int32(segment % 2) }
            }
            start += length + 1
        }
        return EncodedText(ids: ids, attentionMask: [Int32](repeating: 1, count: ids.count), tokenTypeIDs: types,
                           segmentRanges: ranges)
    }
}

/// Token ids of many texts end to end: 16-bit when every id of the vocabulary fits (at most 65,536 entries;
/// Chinese BERT has 21,128), else 32-bit. Half the memory of the index's texts on the usual vocabularies.
enum TokenStorage: Sendable, Equatable {
    case narrow([UInt16])
    case wide([Int32])

    init(vocabularySize: Int) {
        self = vocabularySize <= Int(UInt16.max) + 1 ? .narrow([]) : .wide([])
    }

    /// Bytes per stored id.
    var width: Int {
        switch self {
        case .narrow: 2
        case .wide: 4
        }
    }

    var count: Int {
        switch self {
        case .narrow(let values): values.count
        case .wide(let values): values.count
        }
    }

    /// Appends `ids`, each within the vocabulary this storage was made for.
    mutating func append(_ ids: [Int32]) {
        switch self {
        case .narrow(var values):
            self = .narrow([])  // keeps `values` uniquely referenced: appending does not copy
            values.append(contentsOf: ids.lazy.map { UInt16(truncatingIfNeeded: $0) })
            self = .narrow(values)
        case .wide(var values):
            self = .wide([])
            values.append(contentsOf: ids)
            self = .wide(values)
        }
    }

    /// The ids in `range`, widened to Int32.
    func ids(_ range: Range<Int>) -> [Int32] {
        switch self {
        case .narrow(let values): values[range].map { Int32($0) }
        case .wide(let values): Array(values[range])
        }
    }
}

/// A sample or loader setting that cannot work, or a video that cannot be read under `.stop`.
public enum SampleError: Error, Sendable, CustomStringConvertible {
    case invalidSetting(String)
    case videoFailed(split: String, position: Int, id: String, underlying: String)

    public var description: String {
        switch self {
        case .invalidSetting(let problem): "invalid sample setting: \(problem)"
        case .videoFailed(let split, let position, let id, let underlying):
            "split '\(split)', video \(position) (id \(id)): \(underlying). Hint: fix or remove the video, "
                + "or read with bad-record policy .skip to count such videos and go on"
        }
    }
}
