import Foundation

/// A WordPiece vocabulary made from a corpus, for BERTs trained from scratch (the demo; data without a
/// pretrained Chinese BERT): the special tokens, then, by frequency, the first character of every word the
/// basic tokenizer produces (lower-cased, accents stripped, a CJK character or punctuation mark being a word
/// of its own) and every later character as a `##` continuation. Every text of the corpus then tokenizes
/// without `[UNK]`: CJK characters and punctuation are whole tokens, other words split into characters.
public enum CorpusVocabulary {
    public static let specialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    /// Tokens in id order from `texts`; pieces seen fewer than `minimumCount` times are left out (they
    /// become `[UNK]`).
    public static func tokens<Texts: Sequence>(from texts: Texts, minimumCount: Int = 1,
                                               settings: BertTokenizerSettings = BertTokenizerSettings()) throws -> [String]
    where Texts.Element == String {
        let basic = try BertTokenizer(vocabulary: Vocabulary(tokens: specialTokens, settings: settings), settings: settings)
        var counts: [String: Int] = [:]
        for text in texts {
            for word in basic.basicTokens(text) where !specialTokens.contains(word) {
                var first = true
                for character in word {
                    counts[first ? String(character) : "##" + String(character), default: 0] += 1
                    first = false
                }
            }
        }
        let ordered = counts.filter { $0.value >= minimumCount }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map(\.key)
        return specialTokens + ordered
    }

    /// Tokens from the title, ASR and OCR texts of every split of `data` that is not a test split (`test`,
    /// `test_*`): labelled and unlabelled videos alike, never the videos a submission is scored on.
    public static func tokens(fromTrainingTextsOf data: DataRoot, minimumCount: Int = 1) throws -> [String] {
        var texts: [String] = []
        for split in data.annotatedSplits().sorted() where split != "test" && !split.hasPrefix("test_") {
            _ = try AnnotationReader(url: try data.annotationsURL(split: split), labelSpace: nil, policy: .skip).forEach {
                texts += [$0.title, $0.asr, $0.ocrText]
            }
        }
        return try tokens(from: texts, minimumCount: minimumCount)
    }

    /// Writes `tokens` one per line (the `vocab.txt` format).
    public static func write(_ tokens: [String], to url: URL) throws {
        try Data((tokens.joined(separator: "\n") + "\n").utf8).write(to: url, options: .atomic)
    }
}
