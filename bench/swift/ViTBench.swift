import ArgumentParser
import Foundation
import Torch
import VidTagModels

/// Forward + backward of a ViT encoder over one video's frames (ViT-B/16, 8 frames at 224 px, fp32 by default),
/// loaded from a Hugging Face folder so that bench/python/vit_bench.py runs transformers' ViTModel on the same
/// weights. Prints one JSON line of per-iteration times.
struct ViTBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vit", abstract: "Forward + backward of a ViT frame encoder (Hugging Face folder).")

    @Option(help: "Folder with config.json, preprocessor_config.json, model.safetensors") var folder: String
    @Option var frames = 8
    @Option var iterations = 5
    @Option var warmup = 2
    @Option var threads = 2
    @Option(help: "cpu or cuda[:n]") var device = "cpu"
    @Option(help: "fp32, or bf16 / fp16 autocast") var precision = "fp32"

    func run() throws {
        guard let device = Device(name: device) else { throw ValidationError("unknown device \(self.device)") }
        Runtime.threads = threads
        let store = ParameterStore(device: device)
        let (encoder, _) = try FrameEncoderFolder(URL(fileURLWithPath: folder)).loadEncoder(store.root)
        let size = encoder.imageSize
        let pixels = Tensor.randn([frames, 3, size.height, size.width], generator: Generator(seed: 1)).to(device)
        let autocastType: DType? = precision == "bf16" ? .bfloat16 : precision == "fp16" ? .float16 : nil

        func step() {
            let vectors = withAutocast(device, dtype: autocastType ?? .bfloat16, enabled: autocastType != nil) {
                encoder.encodeFrames(pixels, train: true)  // [frames, D]
            }
            vectors.to(.float32).square().sum().backward()
            for entry in store.trainable() { entry.tensor.zeroGrad() }
        }
        try Torch.catching {
            for _ in 0..<warmup { step() }
            Runtime.synchronize(device)
        }
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
