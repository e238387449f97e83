import Foundation

/// How a BERT tokenizer normalises text: the keys of Hugging Face's `tokenizer_config.json`.
public struct BertTokenizerSettings: Sendable, Equatable {
    /// `do_lower_case`.
    public var lowercase: Bool
    /// `strip_accents`; nil follows `lowercase`, as in the original BERT.
    public var stripAccents: Bool?
    /// `tokenize_chinese_chars`: every CJK ideograph becomes a word of its own.
    public var tokenizeChineseChars: Bool
    /// `model_max_length`, when the file gives a usable one (Hugging Face writes 1e30 for "none").
    public var modelMaxLength: Int?
    /// A word of more Unicode scalars than this becomes a single unknown token (WordPiece's limit).
    public var maxInputCharsPerWord: Int
    /// `unk_token`, `cls_token`, `sep_token`, `pad_token`, `mask_token`.
    public var unknownToken: String
    public var classifierToken: String
    public var separatorToken: String
    public var paddingToken: String
    public var maskToken: String

    /// BERT's defaults (uncased: lower-case, strip accents, split CJK).
    public init(
        lowercase: Bool = true, stripAccents: Bool? = nil, tokenizeChineseChars: Bool = true,
        modelMaxLength: Int? = nil, maxInputCharsPerWord: Int = 100,
        unknownToken: String = "[UNK]", classifierToken: String = "[CLS]", separatorToken: String = "[SEP]",
        paddingToken: String = "[PAD]", maskToken: String = "[MASK]"
    ) {
        self.lowercase = lowercase
        self.stripAccents = stripAccents
        self.tokenizeChineseChars = tokenizeChineseChars
        self.modelMaxLength = modelMaxLength
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.unknownToken = unknownToken
        self.classifierToken = classifierToken
        self.separatorToken = separatorToken
        self.paddingToken = paddingToken
        self.maskToken = maskToken
    }

    /// Whether accents are stripped: `stripAccents`, or `lowercase` when that is nil.
    public var stripsAccents: Bool { stripAccents ?? lowercase }

    /// Reads the keys vidtag uses from a Hugging Face `tokenizer_config.json`; absent keys keep their default.
    /// Special tokens may be strings or `{"content": …}` objects.
    public init(configurationFile path: String) throws {
        self.init()
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.fileNotFound(path: path, hint: "expected a Hugging Face tokenizer_config.json")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TokenizerError.unreadableFile(path: path, reason: "not valid JSON (\(error))")
        }
        guard let object = parsed as? [String: Any] else {
            throw TokenizerError.unreadableFile(path: path, reason: "expected a JSON object at the top level")
        }
        func flag(_ key: String) throws -> Bool? {
            guard let value = object[key], !(value is NSNull) else { return nil }
            guard let bool = value as? Bool else {
                throw TokenizerError.invalidConfiguration(path: path, key: key, expected: "true, false or null")
            }
            return bool
        }
        func token(_ key: String) throws -> String? {
            guard let value = object[key], !(value is NSNull) else { return nil }
            if let text = value as? String { return text }
            if let added = value as? [String: Any], let text = added["content"] as? String { return text }
            throw TokenizerError.invalidConfiguration(
                path: path, key: key, expected: "a string or an object with a string \"content\"")
        }
        if let value = try flag("do_lower_case") { lowercase = value }
        if object["strip_accents"] != nil { stripAccents = try flag("strip_accents") }
        if let value = try flag("tokenize_chinese_chars") { tokenizeChineseChars = value }
        if let value = object["model_max_length"], !(value is NSNull) {
            guard let number = value as? Double else {
                throw TokenizerError.invalidConfiguration(path: path, key: "model_max_length", expected: "a number")
            }
            modelMaxLength = number >= 1 && number < Double(Int32.max) ? Int(number) : nil
        }
        if let value = object["max_input_chars_per_word"] {
            guard let number = value as? Int, number > 0 else {
                throw TokenizerError.invalidConfiguration(
                    path: path, key: "max_input_chars_per_word", expected: "a positive integer")
            }
            maxInputCharsPerWord = number
        }
        if let value = try token("unk_token") { unknownToken = value }
        if let value = try token("cls_token") { classifierToken = value }
        if let value = try token("sep_token") { separatorToken = value }
        if let value = try token("pad_token") { paddingToken = value }
        if let value = try token("mask_token") { maskToken = value }
    }
}

/// The ids of the five special tokens of a BERT vocabulary.
public struct SpecialTokenIDs: Sendable, Equatable {
    public var unknown: Int32
    public var classifier: Int32
    public var separator: Int32
    public var padding: Int32
    public var mask: Int32
}

/// A WordPiece vocabulary (`vocab.txt`: one token a line, id = line number from 0) with the settings of
/// the `tokenizer_config.json` beside it, when there is one.
public struct Vocabulary: Sendable {
    /// The tokens by id.
    public let tokens: [String]
    /// The settings read from `tokenizer_config.json`, or BERT's defaults.
    public let settings: BertTokenizerSettings
    /// Ids of the special tokens named by `settings`.
    public let specialTokenIDs: SpecialTokenIDs
    /// The file the tokens were read from ("<memory>" when built from a list).
    public let source: String

    /// Tokens as they are; `##`-prefixed tokens under their prefix too.
    let wholeTokens: TokenLookup
    /// Only the `##` continuation tokens, keyed without the `##`.
    let continuationTokens: TokenLookup

    /// Number of ids.
    public var count: Int { tokens.count }

    /// Reads `vocab.txt` at `path` and, if present in the same folder, `tokenizer_config.json`.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.fileNotFound(
                path: path, hint: "expected a WordPiece vocab.txt (one token a line), e.g. from a Hugging Face BERT folder")
        }
        var lines: [String] = []
        var lineNumber = 0
        for var line in [UInt8](data).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard let token = String(validating: line, as: UTF8.self) else {
                throw TokenizerError.unreadableFile(path: path, reason: "line \(lineNumber) is not valid UTF-8")
            }
            lines.append(token)
        }
        if data.last == UInt8(ascii: "\n") { lines.removeLast() }
        let configuration = URL(fileURLWithPath: path).deletingLastPathComponent()
            .appendingPathComponent("tokenizer_config.json").path
        let settings =
            FileManager.default.fileExists(atPath: configuration)
            ? try BertTokenizerSettings(configurationFile: configuration) : BertTokenizerSettings()
        try self.init(tokens: lines, settings: settings, source: path)
    }

    /// Reads a Hugging Face tokenizer folder: `vocab.txt` and, if present, `tokenizer_config.json`.
    public init(directory: String) throws {
        try self.init(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent("vocab.txt").path)
    }

    /// A vocabulary from tokens in id order.
    public init(tokens: [String], settings: BertTokenizerSettings = BertTokenizerSettings(), source: String = "<memory>")
        throws
    {
        self.tokens = tokens
        self.settings = settings
        self.source = source
        var whole: [(bytes: ArraySlice<UInt8>, id: Int32)] = []
        var continuation: [(bytes: ArraySlice<UInt8>, id: Int32)] = []
        whole.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() {
            let bytes = ArraySlice(token.utf8)
            whole.append((bytes, Int32(id)))
            if bytes.starts(with: "##".utf8) { continuation.append((bytes.dropFirst(2), Int32(id))) }
        }
        let wholeTokens = TokenLookup(keys: whole)
        self.wholeTokens = wholeTokens
        continuationTokens = TokenLookup(keys: continuation)
        func require(_ token: String, _ role: String) throws -> Int32 {
            guard let id = wholeTokens.id(of: token) else {
                throw TokenizerError.missingSpecialToken(token: token, role: role, vocabularyFile: source)
            }
            return id
        }
        specialTokenIDs = SpecialTokenIDs(
            unknown: try require(settings.unknownToken, "unk_token"),
            classifier: try require(settings.classifierToken, "cls_token"),
            separator: try require(settings.separatorToken, "sep_token"),
            padding: try require(settings.paddingToken, "pad_token"),
            mask: try require(settings.maskToken, "mask_token"))
    }

    /// The id of `token`, or nil when it is not in the vocabulary.
    public func id(of token: String) -> Int32? { wholeTokens.id(of: token) }

    /// The token of `id`, or nil when out of range.
    public func token(of id: Int32) -> String? {
        id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil
    }
}
