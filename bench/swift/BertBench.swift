import ArgumentParser
import Foundation
import Torch
import VidTagModels

/// `vidtag-bench bert`: forward passes of a whole BertModel (eval mode, no grad) loaded from a text encoder
/// folder; bench/bert.sh runs it against Hugging Face transformers' BertModel on the same folder
/// (bench/python/bert_bench.py). `--create` writes that folder first: BERT-base random weights from a config.
struct BertBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bert", abstract: "BertModel forward from a text encoder folder (see bench/bert.sh).")

    @Option(help: "Text encoder folder (config.json, model.safetensors, vocab.txt).")
    var folder: String

    @Flag(help: "Write a BERT-base folder with random weights (seed 0) to --folder and exit.")
    var create = false

    @Option(help: "Vocabulary size of the created model (21128: bert-base-chinese).")
    var vocabularySize = 21128

    @Option var batch = 8
    @Option var sequence = 256
    @Option var iterations = 3
    @Option var warmup = 1
    @Option var threads = 2
    @Option(help: "cpu or cuda[:n]") var device = "cpu"

    @Flag(help: "Accepted for the Python twin's flag; vidtag decides padding on the host and passes no mask either way.")
    var noMask = false

    func run() throws {
        guard let device = Device(name: device) else { throw ValidationError("unknown device \(self.device)") }
        Runtime.threads = threads
        let url = URL(fileURLWithPath: folder)
        if create {
            var config = BertConfig()
            config.vocabSize = vocabularySize
            let model = BertModel(ParameterStore(seed: 0).root, config: config)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            let vocabulary = url.appendingPathComponent("source-vocab.txt")
            let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (5..<vocabularySize).map { "[unused\($0)]" }
            try Data((tokens.joined(separator: "\n") + "\n").utf8).write(to: vocabulary)
            try TextEncoderFolder.save(model, vocabulary: vocabulary, to: url)
            try FileManager.default.removeItem(at: vocabulary)
            print("wrote \(url.path): BERT-base, vocab \(vocabularySize), \(model.path.store.parameterCount) parameters")
            return
        }
        let store = ParameterStore(device: device)
        let (model, _) = try TextEncoderFolder(url).loadModel(store.root)
        let ids = Tensor.randint(1000, model.config.vocabSize, [batch, sequence], generator: Generator(seed: 1)).to(device)
        // The batch has no padding: known here on the host, so no mask reaches BERT (transformers drops the
        // same all-ones mask after checking it on the device).
        let mask: Tensor? = nil
        var checksum = 0.0
        func step() throws {
            let hidden = try Torch.catching {
                withNoGrad { model.forward(inputIds: ids, attentionMask: mask, train: false).lastHiddenState }
            }
            checksum += hidden.select(dim: 1, index: 0).sum().item()  // waits for the result
        }
        for _ in 0..<warmup { try step() }
        var times: [Double] = []
        for _ in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            try step()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let json = try JSONSerialization.data(withJSONObject: ["impl": "vidtag", "times_ms": times, "checksum": checksum])
        print(String(decoding: json, as: UTF8.self))
    }
}
