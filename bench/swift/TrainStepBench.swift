import ArgumentParser
import Foundation
import Torch
import VidTagModels
import VidTagTraining

/// `vidtag-bench train-step`: training steps of the single-stream (or, with `--kind dual_stream`, the
/// dual-stream) model (forward, cross-entropy, backward, clip, AdamW) on random data; bench/train-step.sh runs
/// it against the same model written in PyTorch (bench/python/train_step_bench.py). Prints per-step times,
/// samples/s and peak memory. Started by a launcher (torchrun --no-python, or RANK / WORLD_SIZE / MASTER_ADDR /
/// MASTER_PORT set), each rank trains on its own batch and `DataParallel` averages the gradients over Gloo
/// (bench/ddp-step.sh, against PyTorch DistributedDataParallel); rank 0 prints.
struct TrainStepBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-step", abstract: "Single- or dual-stream training steps at BERT-base size (see bench/train-step.sh).")

    @Option(help: "single_stream or dual_stream") var kind: ModelKind = .singleStream
    @Option(help: "Dual-stream: layers of the video tower.") var videoLayers = 2
    @Option(help: "Dual-stream: fusion layers.") var fusionLayers = 2
    @Option var batch = 8
    @Option var text = 256
    @Option var frames = 32
    @Option var layers = 12
    @Option var hidden = 768
    @Option var heads = 12
    @Option var intermediate = 3072
    @Option var vocabularySize = 21128
    @Option var classes = 200
    @Option var iterations = 3
    @Option var warmup = 1
    @Option var threads = 2
    @Option(help: "cpu or cuda[:n]") var device = "cpu"
    @Option(help: "fp32 or bf16 (autocast)") var precision = "fp32"
    @Flag(help: "Raw frames through a ViT-B/16 encoder (224 px) end to end instead of 768-d features.")
    var vit = false
    @Option(help: "Data-parallel runs: all-reduce inside the backward pass (yes) or after it (no).")
    var overlap = "yes"

    func run() throws {
        guard let device = Device(name: device) else { throw ValidationError("unknown device \(self.device)") }
        Runtime.threads = threads
        Runtime.manualSeed(0)
        var text = BertConfig()
        text.vocabSize = vocabularySize
        text.hiddenSize = hidden
        text.numHiddenLayers = layers
        text.numAttentionHeads = heads
        text.intermediateSize = intermediate
        let config = FusionConfig(modelType: kind, modalities: .both, classes: classes, featureSize: 768,
                                  maxFrames: frames, textPositions: self.text, separatorTokenId: 3, pooling: .mean,
                                  videoLayers: videoLayers, fusionLayers: fusionLayers, textConfig: text, frameEncoder: vit ? FrameEncoderSpec() : nil)
        let store = ParameterStore(device: device, seed: 0)
        let model = try config.makeModel(store: store, frameEncoder: vit ? .vit(ViTConfig()) : nil)
        let rates = GroupLearningRates(rates: ["text": 5e-5, "visual": 5e-5, "fusion": 5e-5, "head": 5e-4,
                                               "frame_encoder": 5e-6],
                                       weightDecay: 0.01)
        let optimizer = AdamW(groups: rates.optimizerGroups(for: store))
        let group = try ProcessGroup.fromEnvironment()
        let parallel = try group.map {
            try DataParallel(group: $0, parameters: optimizer.parameters, overlapWithBackward: overlap == "yes")
        }
        try parallel?.broadcastFromRankZero(store.all.map(\.tensor))
        let generator = Generator(seed: 1 + UInt64(group?.rank ?? 0))
        let input = VideoBatchInput(
            textIds: Tensor.randint(5, vocabularySize, [batch, self.text], generator: generator).to(device),
            textMask: Tensor.ones([batch, self.text], dtype: .int64, device: device),
            frames: Tensor.randn(vit ? [batch, frames, 3, 224, 224] : [batch, frames, 768], generator: generator).to(device),
            frameMask: Tensor.ones([batch, frames], dtype: .int64, device: device),
            textPadded: false, framesPadded: false)
        let labels = Tensor.randint(0, classes, [batch], generator: generator).to(device)
        let autocast: DType? = precision == "bf16" ? .bfloat16 : nil
        var lastLoss = 0.0
        func step() throws {
            try Torch.catching {
                let loss = withAutocast(device, dtype: autocast ?? .bfloat16, enabled: autocast != nil) {
                    model.forward(input, train: true).logits.to(.float32).crossEntropy(labels)
                }
                try parallel?.beforeFinalBackward(of: loss, votingToStop: false)
                loss.backward()
                try parallel?.synchronizeGradients()
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
        guard (group?.rank ?? 0) == 0 else { return }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let json = try JSONSerialization.data(withJSONObject: [
            "impl": parallel == nil ? "vidtag" : "vidtag-\(group!.worldSize)-ranks" + (overlap == "yes" ? "" : "-after-backward"),
            "times_ms": times, "loss": lastLoss, "peak_rss_mb": Double(usage.ru_maxrss) / 1024,
        ])
        print(String(decoding: json, as: UTF8.self))
    }
}

extension ModelKind: ExpressibleByArgument {}
