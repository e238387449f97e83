import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagModels
import VidTagTraining

/// `vidtag-bench pretrain-step`: pretraining steps of the single-stream model with MLM, MFM and ITM (the
/// host choosing masks and pairs for each step, one forward, the three losses, backward, clip, AdamW) on
/// random data; bench/pretrain_throughput.py runs it against the same tasks in PyTorch + transformers
/// (bench/python/pretrain_step_bench.py). Prints per-step times and peak memory.
struct PretrainStepBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain-step", abstract: "Single-stream pretraining steps, MLM + MFM + ITM (see bench/pretrain_throughput.py).")

    @Option var batch = 8
    @Option var text = 256
    @Option var frames = 32
    @Option var layers = 12
    @Option var hidden = 768
    @Option var heads = 12
    @Option var intermediate = 3072
    @Option var vocabularySize = 21128
    @Option var iterations = 3
    @Option var warmup = 1
    @Option var threads = 2
    @Option(help: "cpu or cuda[:n]") var device = "cpu"
    @Option(help: "fp32 or bf16 (autocast)") var precision = "fp32"

    func run() throws {
        guard let device = Device(name: device) else { throw ValidationError("unknown device \(self.device)") }
        Runtime.threads = threads
        Runtime.manualSeed(0)
        var bert = BertConfig()
        bert.vocabSize = vocabularySize
        bert.hiddenSize = hidden
        bert.numHiddenLayers = layers
        bert.numAttentionHeads = heads
        bert.intermediateSize = intermediate
        let config = FusionConfig(modelType: .singleStream, modalities: .both, classes: 200, featureSize: 768,
                                  maxFrames: frames, textPositions: text, separatorTokenId: 3, pooling: .mean, textConfig: bert)
        let store = ParameterStore(device: device, seed: 0)
        guard let model = try config.makeModel(store: store) as? any FusionEncoder else { throw ValidationError("not a fusion encoder") }
        let heads = PretrainingHeads(store.root, model: model, mlm: true, mfm: true, itm: true, itc: false)
        let vocabulary = try Vocabulary(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
            + (5..<vocabularySize).map { "t\($0)" })
        let objective = PretrainingObjective(model: model, heads: heads, settings: RunConfig.PretrainSettings(), seed: 0,
                                             vocabulary: vocabulary)
        let rates = GroupLearningRates(rates: ["text": 5e-5, "visual": 5e-5, "head": 5e-4], weightDecay: 0.01)
        let optimizer = AdamW(groups: rates.optimizerGroups(for: store))

        var generator = SplitMix64(seed: 1)
        let samples = (0..<batch).map { row -> Sample in
            let ids = [Int32(2)] + (0..<(text - 2)).map { _ in Int32(5 + generator.uniform(below: vocabularySize - 5)) } + [3]
            let values = (0..<(frames * 768)).map { _ in Float(generator.uniform(below: 2001) - 1000) / 1000 }
            return Sample(position: row, id: "\(row)", text: EncodedText(
                              ids: ids, attentionMask: [Int32](repeating: 1, count: text),
                              tokenTypeIDs: [Int32](repeating: 0, count: text), segmentRanges: []),
                          frames: values, frameShape: [768], frameMask: [Int32](repeating: 1, count: frames), label: nil)
        }
        var template = try Batch(collating: samples, paddingID: 0)
        let autocast: DType? = precision == "bf16" ? .bfloat16 : nil
        var lastLoss = 0.0
        var stepIndex = 0
        func step() throws {
            try Torch.catching {
                template.index = stepIndex  // new masks and pairs each step, as in a run
                stepIndex += 1
                let loss = withAutocast(device, dtype: autocast ?? .bfloat16, enabled: autocast != nil) {
                    objective.lossFunction(for: template, device: device)().total
                }
                loss.backward()
                clipGradNorm(optimizer.parameters, maxNorm: 1)
                optimizer.step()
                optimizer.zeroGrad()
                lastLoss = loss.item()
            }
        }
        for _ in 0..<warmup { try step() }
        var times: [Double] = []
        for _ in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            try step()
            Runtime.synchronize(device)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let json = try JSONSerialization.data(withJSONObject: [
            "impl": "vidtag", "times_ms": times, "loss": lastLoss, "peak_rss_mb": Double(usage.ru_maxrss) / 1024,
        ])
        print(String(decoding: json, as: UTF8.self))
    }
}
