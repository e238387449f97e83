/// Why a vocabulary, tokenizer configuration or encoding request was refused.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No file at `path`.
    case fileNotFound(path: String, hint: String)
    /// The file exists but could not be read or decoded.
    case unreadableFile(path: String, reason: String)
    /// A special token (role: "unk_token", "cls_token", …) is not a line of the vocabulary file.
    case missingSpecialToken(token: String, role: String, vocabularyFile: String)
    /// A key of tokenizer_config.json has a value of the wrong kind.
    case invalidConfiguration(path: String, key: String, expected: String)
    /// A segment's token budget or a fixed padding length is not usable.
    case invalidLength(what: String, value: Int, expected: String)
    /// A row of a batch is longer than the fixed length it should be padded to.
    case rowTooLong(row: Int, length: Int, paddedLength: Int)

    public var description: String {
        switch self {
        case .fileNotFound(let path, let hint):
            return "no file at \(path): \(hint)"
        case .unreadableFile(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .missingSpecialToken(let token, let role, let vocabularyFile):
            return "vocabulary \(vocabularyFile) has no line \"\(token)\" (the \(role)); a BERT vocabulary needs "
                + "[PAD], [UNK], [CLS], [SEP] and [MASK], or tokenizer_config.json beside it must name the "
                + "tokens it uses instead"
        case .invalidConfiguration(let path, let key, let expected):
            return "\(path): key \"\(key)\" should be \(expected)"
        case .invalidLength(let what, let value, let expected):
            return "\(what) is \(value); expected \(expected)"
        case .rowTooLong(let row, let length, let paddedLength):
            return "batch row \(row) has \(length) tokens, more than the fixed length \(paddedLength); "
                + "lower the segment budgets or pad to the longest row"
        }
    }
}
