import ArgumentParser
import Foundation
import Torch

/// Forward + backward of one BERT-base encoder layer written with the engine's ops (the same ops
/// bench/python/bert_layer_bench.py runs from PyTorch). Prints one JSON line of per-iteration times.
struct BertLayerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bert-layer", abstract: "Forward + backward of one BERT-base encoder layer.")

    @Option var batch = 8
    @Option var sequence = 256
    @Option var hidden = 768
    @Option var heads = 12
    @Option var intermediate = 3072
    @Option var iterations = 5
    @Option var warmup = 2
    @Option var threads = 2
    @Option(help: "cpu or cuda[:n]") var device = "cpu"
    @Option(help: "fp32, or bf16 / fp16 autocast") var precision = "fp32"

    func run() throws {
        guard let device = Device(name: device) else { throw ValidationError("unknown device \(self.device)") }
        Runtime.threads = threads
        let store = ParameterStore(device: device, seed: 0)
        let root = store.root
        let init_ = Initializer.normal(std: 0.02)
        let query = Linear(root("query"), inputSize: hidden, outputSize: hidden, initializer: init_)
        let key = Linear(root("key"), inputSize: hidden, outputSize: hidden, initializer: init_)
        let value = Linear(root("value"), inputSize: hidden, outputSize: hidden, initializer: init_)
        let attentionOutput = Linear(root("attention_output"), inputSize: hidden, outputSize: hidden, initializer: init_)
        let attentionNorm = LayerNorm(root("attention_norm"), size: hidden, eps: 1e-12)
        let up = Linear(root("intermediate"), inputSize: hidden, outputSize: intermediate, initializer: init_)
        let down = Linear(root("output"), inputSize: intermediate, outputSize: hidden, initializer: init_)
        let outputNorm = LayerNorm(root("output_norm"), size: hidden, eps: 1e-12)

        let generator = Generator(seed: 1)
        let x = Tensor.randn([batch, sequence, hidden], generator: generator).to(device).requiringGrad()
        let upstream = Tensor.randn([batch, sequence, hidden], generator: generator).to(device)
        // Last quarter of every sequence is padding.
        var maskValues = [Bool](repeating: true, count: batch * sequence)
        for b in 0..<batch { for t in (sequence * 3 / 4)..<sequence { maskValues[b * sequence + t] = false } }
        let mask = Tensor(maskValues, shape: [batch, 1, 1, sequence]).to(device)
        let headSize = hidden / heads

        func splitHeads(_ t: Tensor) -> Tensor {
            t.view([batch, sequence, heads, headSize]).transpose(1, 2)  // [B, heads, T, D]
        }
        func step() {
            let autocastType: DType? = precision == "bf16" ? .bfloat16 : precision == "fp16" ? .float16 : nil
            let output = withAutocast(device, dtype: autocastType ?? .bfloat16, enabled: autocastType != nil) {
                let context = scaledDotProductAttention(
                    query: splitHeads(query(x)), key: splitHeads(key(x)), value: splitHeads(value(x)), mask: mask,
                    dropout: 0.1)
                let merged = context.transpose(1, 2).reshape([batch, sequence, hidden])
                let attended = attentionNorm(attentionOutput(merged).dropout(0.1, train: true) + x)
                let expanded = up(attended).gelu()
                return outputNorm(down(expanded).dropout(0.1, train: true) + attended)
            }
            (output * upstream).sum().backward()
            for entry in store.trainable() { entry.tensor.zeroGrad() }
            x.zeroGrad()
        }
        for _ in 0..<warmup { step() }
        Runtime.synchronize(device)
        var times: [Double] = []
        for _ in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            step()
            Runtime.synchronize(device)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let json = try JSONSerialization.data(withJSONObject: ["impl": "vidtag", "times_ms": times])
        print(String(decoding: json, as: UTF8.self))
    }
}
