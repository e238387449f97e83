/// BERT's WordPiece tokenizer, id for id the same as Hugging Face's `BertTokenizerFast` (tokenizers 0.23).
///
/// Steps, on Unicode scalars of the UTF-8 text:
/// 1. Special tokens of the vocabulary ([CLS], [SEP], [PAD], [UNK], [MASK] or their overrides) written in
///    the text are matched first, exactly and leftmost-longest, and never split.
/// 2. Basic tokenization of the text between them: NUL, U+FFFD and control / format / private-use
///    characters are dropped; whitespace separates words; every CJK ideograph is a word of its own
///    (`tokenizeChineseChars`); accents are stripped (NFD, nonspacing marks removed) and text lower-cased
///    as `settings` say; each punctuation character (ASCII 33-47, 58-64, 91-96, 123-126, Unicode P*) is a
///    word of its own.
/// 3. Greedy longest-match WordPiece per word, continuation pieces prefixed with `##`; a word longer than
///    `maxInputCharsPerWord` scalars, or one that cannot be covered by vocabulary pieces, becomes one
///    unknown token.
///
/// Where Hugging Face's slow (Python) and fast (Rust) tokenizers differ, this follows the fast one: CJK
/// extension D starts at U+2B920 (the slow one: U+2B820), a final capital sigma lower-cases to σ (the slow
/// one: ς), and character categories are those of the fast tokenizer's Unicode tables. The per-character
/// data is generated from tokenizers itself (`BertCharacterTable.swift`).
public struct BertTokenizer: Sendable {
    /// The vocabulary the ids index.
    public let vocabulary: Vocabulary
    /// Normalisation and special-token settings in force.
    public let settings: BertTokenizerSettings

    private let classes: BertCharacterClasses
    /// Dropped / whitespace / punctuation flags of the 128 ASCII scalars, and their output byte
    /// (lower-cased when enabled).
    private let asciiFlags: [UInt8]
    private let asciiOutput: [UInt8]
    /// Flags on which a scalar is looked up in `replacements`.
    private let replacedWhen: UInt8
    /// Accent stripping then lower-casing, as enabled, for every scalar they change.
    private let replacements: [UInt32: [Unicode.Scalar]]
    /// The special tokens, longest first.
    private let specialTokens: [(bytes: [UInt8], id: Int32)]
    /// Bit per first byte of a special token.
    private let specialTokenStarts: [Bool]

    /// A tokenizer over `vocabulary`, with its settings unless `settings` overrides them. Throws when an
    /// overriding setting names a special token the vocabulary lacks.
    public init(vocabulary: Vocabulary, settings: BertTokenizerSettings? = nil) throws {
        var vocabulary = vocabulary
        if let settings, settings != vocabulary.settings {
            vocabulary = try Vocabulary(tokens: vocabulary.tokens, settings: settings, source: vocabulary.source)
        }
        self.vocabulary = vocabulary
        self.settings = vocabulary.settings
        let settings = vocabulary.settings
        let classes = BertCharacterClasses.shared
        self.classes = classes

        var flags = [UInt8](repeating: 0, count: 128)
        var output = [UInt8](repeating: 0, count: 128)
        for byte in 0..<128 {
            flags[byte] = classes.flags(UInt32(byte)).intersection([.dropped, .whitespace, .punctuation]).rawValue
            let isUpper = byte >= 0x41 && byte <= 0x5A
            output[byte] = UInt8(settings.lowercase && isUpper ? byte + 0x20 : byte)
        }
        asciiFlags = flags
        asciiOutput = output

        var replacedWhen: BertCharacterFlags = []
        if settings.stripsAccents { replacedWhen.insert(.changedByStripping) }
        if settings.lowercase { replacedWhen.insert(.changedByLowercasing) }
        self.replacedWhen = replacedWhen.rawValue
        var replacements: [UInt32: [Unicode.Scalar]] = [:]
        var candidates = Set<UInt32>()
        if settings.stripsAccents {
            candidates.formUnion(classes.strippedForms.keys)
            candidates.formUnion(BertCharacterClasses.hangulFirst...BertCharacterClasses.hangulLast)
        }
        if settings.lowercase { candidates.formUnion(classes.lowercaseForms.keys) }
        for scalar in candidates {
            var form = [Unicode.Scalar(scalar)!]
            if settings.stripsAccents {
                if scalar >= BertCharacterClasses.hangulFirst && scalar <= BertCharacterClasses.hangulLast {
                    form = BertCharacterClasses.hangulJamo(scalar)
                } else if let stripped = classes.strippedForms[scalar] {
                    form = stripped
                }
            }
            if settings.lowercase {
                form = form.flatMap { classes.lowercaseForms[$0.value] ?? [$0] }
            }
            if form != [Unicode.Scalar(scalar)!] { replacements[scalar] = form }
        }
        self.replacements = replacements

        let ids = vocabulary.specialTokenIDs
        let named: [(String, Int32)] = [
            (settings.unknownToken, ids.unknown), (settings.classifierToken, ids.classifier),
            (settings.separatorToken, ids.separator), (settings.paddingToken, ids.padding),
            (settings.maskToken, ids.mask),
        ]
        specialTokens = named.filter { !$0.0.isEmpty }.map { (Array($0.0.utf8), $0.1) }
            .sorted { $0.bytes.count > $1.bytes.count }
        var starts = [Bool](repeating: false, count: 256)
        for token in specialTokens { starts[Int(token.bytes[0])] = true }
        specialTokenStarts = starts
    }

    /// Loads a Hugging Face tokenizer folder: `vocab.txt` and, if present, `tokenizer_config.json`.
    public init(directory: String) throws {
        try self.init(vocabulary: try Vocabulary(directory: directory))
    }

    /// The token ids of `text`, without [CLS] / [SEP] around them.
    public func tokenIDs(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        appendTokenIDs(text, to: &ids)
        return ids
    }

    /// The tokens of `text` as strings (WordPiece continuations keep their `##`).
    public func tokenize(_ text: String) -> [String] {
        tokenIDs(text).map { vocabulary.tokens[Int($0)] }
    }

    /// Appends the token ids of `text` to `ids`.
    public func appendTokenIDs(_ text: String, to ids: inout [Int32]) {
        var sink = WordPieceSink(tokenizer: self, ids: [])
        swap(&sink.ids, &ids)
        split(text, into: &sink)
        swap(&sink.ids, &ids)
    }

    /// The words BERT's basic tokenizer makes of `text` before WordPiece: cleaned, normalised as the
    /// settings say, split at whitespace, CJK ideographs and punctuation; special tokens kept whole. A
    /// vocabulary built from a corpus should cover these.
    public func basicTokens(_ text: String) -> [String] {
        var sink = BasicTokenSink(specialTokens: specialTokens)
        split(text, into: &sink)
        return sink.words
    }

    /// Hands each special token and each word of `text` to `sink`, in order.
    private func split<Sink: WordSink>(_ text: String, into sink: inout Sink) {
        var text = text
        text.withUTF8 { utf8 in
            guard let base = utf8.baseAddress, !utf8.isEmpty else { return }
            var scratch = WordScratch(capacity: utf8.count + 64)
            defer { scratch.deallocate() }
            var segmentStart = 0
            var index = 0
            while index < utf8.count {
                if specialTokenStarts[Int(base[index])], let special = specialToken(at: index, in: utf8) {
                    splitOrdinaryText(base + segmentStart, index - segmentStart, &scratch, &sink)
                    sink.takeSpecialToken(special.id)
                    index += special.length
                    segmentStart = index
                } else {
                    index += 1
                }
            }
            splitOrdinaryText(base + segmentStart, utf8.count - segmentStart, &scratch, &sink)
        }
    }

    private func specialToken(at index: Int, in utf8: UnsafeBufferPointer<UInt8>) -> (id: Int32, length: Int)? {
        for token in specialTokens where index + token.bytes.count <= utf8.count {
            var matches = true
            for offset in 0..<token.bytes.count where utf8[index + offset] != token.bytes[offset] {
                matches = false
                break
            }
            if matches { return (token.id, token.bytes.count) }
        }
        return nil
    }

    /// Basic tokenization of text that holds no special token.
    private func splitOrdinaryText<Sink: WordSink>(
        _ text: UnsafePointer<UInt8>, _ count: Int, _ word: inout WordScratch, _ sink: inout Sink
    ) {
        let dropped = BertCharacterFlags.dropped.rawValue
        let whitespace = BertCharacterFlags.whitespace.rawValue
        let punctuation = BertCharacterFlags.punctuation.rawValue
        let chinese = settings.tokenizeChineseChars ? BertCharacterFlags.chinese.rawValue : 0
        asciiFlags.withUnsafeBufferPointer { asciiFlags in
            asciiOutput.withUnsafeBufferPointer { asciiOutput in
                var index = 0
                while index < count {
                    let lead = text[index]
                    if lead < 0x80 {
                        index += 1
                        let flags = asciiFlags[Int(lead)]
                        if flags == 0 {
                            word.append(asciiOutput[Int(lead)])
                        } else if flags & whitespace != 0 {
                            flushWord(&word, &sink)
                        } else if flags & punctuation != 0 {
                            flushWord(&word, &sink)
                            word.append(lead)
                            flushWord(&word, &sink)
                        }
                        continue
                    }
                    let start = index
                    let scalar: UInt32
                    if lead < 0xE0 {
                        scalar = UInt32(lead & 0x1F) << 6 | UInt32(text[index + 1] & 0x3F)
                        index += 2
                    } else if lead < 0xF0 {
                        scalar = UInt32(lead & 0x0F) << 12 | UInt32(text[index + 1] & 0x3F) << 6
                            | UInt32(text[index + 2] & 0x3F)
                        index += 3
                    } else {
                        scalar = UInt32(lead & 0x07) << 18 | UInt32(text[index + 1] & 0x3F) << 12
                            | UInt32(text[index + 2] & 0x3F) << 6 | UInt32(text[index + 3] & 0x3F)
                        index += 4
                    }
                    let flags = classes.flags(scalar).rawValue
                    if flags == 0 {
                        word.append(text + start, index - start)
                    } else if flags & dropped != 0 {
                        continue
                    } else if flags & whitespace != 0 {
                        flushWord(&word, &sink)
                    } else if flags & chinese != 0 {
                        flushWord(&word, &sink)
                        if flags & replacedWhen != 0, let form = replacements[scalar] {
                            appendReplacement(form, remaining: count - index, &word, &sink)
                        } else {
                            word.append(text + start, index - start)
                        }
                        flushWord(&word, &sink)
                    } else if flags & replacedWhen != 0, let form = replacements[scalar] {
                        appendReplacement(form, remaining: count - index, &word, &sink)
                    } else if flags & punctuation != 0 {
                        flushWord(&word, &sink)
                        word.append(text + start, index - start)
                        flushWord(&word, &sink)
                    } else {
                        word.append(text + start, index - start)
                    }
                }
                flushWord(&word, &sink)
            }
        }
    }

    /// Appends the normalised form of one scalar, splitting where the form holds punctuation or spaces.
    private func appendReplacement<Sink: WordSink>(
        _ form: [Unicode.Scalar], remaining: Int, _ word: inout WordScratch, _ sink: inout Sink
    ) {
        word.reserve(word.count + 4 * form.count + remaining)
        for scalar in form {
            let flags = classes.flags(scalar.value)
            if flags.contains(.whitespace) {
                flushWord(&word, &sink)
            } else if flags.contains(.punctuation) {
                flushWord(&word, &sink)
                word.append(scalar)
                flushWord(&word, &sink)
            } else {
                word.append(scalar)
            }
        }
    }

    /// Hands the word in `word` to `sink` and empties it.
    @inline(__always)
    private func flushWord<Sink: WordSink>(_ word: inout WordScratch, _ sink: inout Sink) {
        guard word.count > 0 else { return }
        sink.takeWord(word.bytes, word.count, scalarCount: word.scalarCount)
        word.removeAll()
    }

    /// Greedy longest-match WordPiece of one word.
    fileprivate func appendWordPieces(
        _ bytes: UnsafePointer<UInt8>, _ length: Int, scalarCount: Int, to ids: inout [Int32]
    ) {
        let unknown = vocabulary.specialTokenIDs.unknown
        if scalarCount > settings.maxInputCharsPerWord {
            ids.append(unknown)
            return
        }
        @inline(__always) func isContinuationByte(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }
        let firstPiece = ids.count
        var start = 0
        while start < length {
            let table = start == 0 ? vocabulary.wholeTokens : vocabulary.continuationTokens
            var end = min(length, start + table.longestKey)
            while end < length && isContinuationByte(bytes[end]) { end -= 1 }
            var found: Int32? = nil
            while end > start {
                if let id = table.id(bytes + start, end - start) {
                    found = id
                    break
                }
                end -= 1
                while end > start && isContinuationByte(bytes[end]) { end -= 1 }
            }
            guard let id = found else {
                ids.removeSubrange(firstPiece...)
                ids.append(unknown)
                return
            }
            ids.append(id)
            start = end
        }
    }
}

/// Receives the output of basic tokenization.
private protocol WordSink {
    /// One word: `count` UTF-8 bytes, `scalarCount` Unicode scalars.
    mutating func takeWord(_ bytes: UnsafePointer<UInt8>, _ count: Int, scalarCount: Int)
    mutating func takeSpecialToken(_ id: Int32)
}

/// WordPiece ids of the words.
private struct WordPieceSink: WordSink {
    let tokenizer: BertTokenizer
    var ids: [Int32]

    @inline(__always)
    mutating func takeWord(_ bytes: UnsafePointer<UInt8>, _ count: Int, scalarCount: Int) {
        tokenizer.appendWordPieces(bytes, count, scalarCount: scalarCount, to: &ids)
    }

    mutating func takeSpecialToken(_ id: Int32) { ids.append(id) }
}

/// The words as strings.
private struct BasicTokenSink: WordSink {
    let specialTokens: [(bytes: [UInt8], id: Int32)]
    var words: [String] = []

    mutating func takeWord(_ bytes: UnsafePointer<UInt8>, _ count: Int, scalarCount: Int) {
        words.append(String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self))
    }

    mutating func takeSpecialToken(_ id: Int32) {
        if let token = specialTokens.first(where: { $0.id == id }) {
            words.append(String(decoding: token.bytes, as: UTF8.self))
        }
    }
}

/// The UTF-8 bytes of the word being assembled, with its length in scalars.
private struct WordScratch {
    private(set) var bytes: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    private(set) var count = 0
    private(set) var scalarCount = 0

    init(capacity: Int) {
        self.capacity = capacity
        bytes = .allocate(capacity: capacity)
    }

    func deallocate() { bytes.deallocate() }

    /// Appends one ASCII byte.
    @inline(__always)
    mutating func append(_ byte: UInt8) {
        bytes[count] = byte
        count += 1
        scalarCount += 1
    }

    /// Appends one whole scalar's UTF-8 bytes.
    @inline(__always)
    mutating func append(_ source: UnsafePointer<UInt8>, _ length: Int) {
        (bytes + count).update(from: source, count: length)
        count += length
        scalarCount += 1
    }

    mutating func append(_ scalar: Unicode.Scalar) {
        reserve(count + 4)
        for byte in UTF8.encode(scalar)! {
            bytes[count] = byte
            count += 1
        }
        scalarCount += 1
    }

    mutating func reserve(_ minimumCapacity: Int) {
        guard minimumCapacity > capacity else { return }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: max(minimumCapacity, capacity * 2))
        grown.update(from: bytes, count: count)
        bytes.deallocate()
        bytes = grown
        capacity = max(minimumCapacity, capacity * 2)
    }

    @inline(__always)
    mutating func removeAll() {
        count = 0
        scalarCount = 0
    }
}
