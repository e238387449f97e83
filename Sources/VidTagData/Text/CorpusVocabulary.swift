import Foundation

/// A WordPiece vocabulary made from a corpus, for BERTs trained from scratch (the demo; data without a
/// pretrained Chinese BERT): the special tokens, then every character of the corpus (lower-cased, accents
/// stripped, as BERT's basic tokenizer leaves them) by frequency, each also as a `##` continuation unless
/// it is a CJK character (which BERT always splits alone). Every text of the corpus then tokenizes without
/// `[UNK]`: CJK characters and punctuation are whole tokens, other words split into characters.
public enum CorpusVocabulary {
    public static let specialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    /// Tokens in id order from `texts`; characters seen fewer than `minimumCount` times are left out
    /// (they become `[UNK]`).
    public static func tokens<Texts: Sequence>(from texts: Texts, minimumCount: Int = 1) -> [String]
    where Texts.Element == String {
        var counts: [Unicode.Scalar: Int] = [:]
        for text in texts {
            let folded = text.lowercased().decomposedStringWithCanonicalMapping
            for scalar in folded.unicodeScalars where isKept(scalar) {
                counts[scalar, default: 0] += 1
            }
        }
        let ordered = counts.filter { $0.value >= minimumCount }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.value < $1.key.value }
            .map(\.key)
        var tokens = specialTokens
        tokens += ordered.map { String($0) }
        tokens += ordered.filter { !isCJK($0) }.map { "##" + String($0) }
        return tokens
    }

    /// Writes `tokens` one per line (the `vocab.txt` format).
    public static func write(_ tokens: [String], to url: URL) throws {
        try Data((tokens.joined(separator: "\n") + "\n").utf8).write(to: url, options: .atomic)
    }

    static func isKept(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        if properties.isWhitespace { return false }
        switch properties.generalCategory {
        case .control, .format, .nonspacingMark, .unassigned, .surrogate, .privateUse: return false
        default: return scalar.value != 0xFFFD
        }
    }

    static func isCJK(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
