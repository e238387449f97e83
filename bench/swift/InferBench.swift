import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagModels
import VidTagTraining

/// `vidtag-bench infer`: inference of the single-stream model (eval, no grad) on random inputs, one
/// forward per timed iteration, the logits read back on the host as a prediction does.
/// - latency (bench/latency.sh): frame features, batch 1 or 8, against bench/python/infer_bench.py on the
///   same weights (`--weights`: written here when absent, read by both sides).
/// - throughput with JPEG decoding (bench/gpu.sh, `--jpeg`): raw frames through a CLIP-ViT-B/16-shaped
///   encoder; every batch's frames are decoded from JPEG and preprocessed on all cores while the device
///   runs the previous batch; prints videos/s.
struct InferBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer", abstract: "Single-stream inference latency or throughput (see bench/latency.sh, bench/gpu.sh).")

    @Option(help: "Model size: demo (make demo's 2 × 128, 68 text tokens + 8 frames) or base (12 × 768, 256 + 32).")
    var size: ModelSize = .demo
    @Option var batch = 1
    @Option var iterations = 20
    @Option var warmup = 3
    @Option var threads = 2
    @Option(help: "cpu or cuda[:n]") var device = "cpu"
    @Option(help: "fp32 or bf16 (autocast)") var precision = "fp32"
    @Option(help: "safetensors of the model's weights: read when it exists, else written (seed 0).")
    var weights: String?
    @Flag(help: "Raw frames: decode JPEGs (640 × 360) and run a CLIP-ViT-B/16-shaped encoder on them.")
    var jpeg = false
    @Option(help: "With --jpeg: frames per video.") var frames = 8
    @Option(help: "With --jpeg: encoder layers (12 for CLIP-ViT-B/16).") var encoderLayers = 12
    @Option(help: "With --jpeg: encoder image side (224 for CLIP-ViT-B/16).") var imageSize = 224
    @Option(help: "With --jpeg: threads decoding JPEGs (0: all cores).") var decodeThreads = 0

    enum ModelSize: String, ExpressibleByArgument {
        case demo, base
    }

    func run() throws {
        guard let device = Device(name: device) else { throw ValidationError("unknown device \(self.device)") }
        Runtime.threads = threads
        Runtime.manualSeed(0)
        let (config, encoder) = modelConfig()
        let store = ParameterStore(device: device, seed: 0)
        let model = try config.makeModel(store: store, frameEncoder: encoder)
        if let weights {
            let url = URL(fileURLWithPath: weights)
            if FileManager.default.fileExists(atPath: url.path) {
                try store.load(try SafeTensors.load(url).mapValues { $0.to(device) }, strict: true, source: weights)
            } else {
                try SafeTensors.save(store.stateDict(), to: url)
            }
        }
        let generator = Generator(seed: 1)
        let textIds = Tensor.randint(5, config.textConfig.vocabSize, [batch, config.textPositions], generator: generator)
        let features = Tensor.randn([batch, config.maxFrames, config.featureSize], generator: generator)
        let autocast: DType? = precision == "bf16" ? .bfloat16 : nil
        let clips = jpeg ? try JPEGClips(count: 16, frames: frames) : nil
        let preprocessing = FramePreprocessing.clip(size: imageSize)

        let decoders = decodeThreads > 0 ? decodeThreads : ProcessInfo.processInfo.activeProcessorCount
        let batch = self.batch
        /// Batch `index`'s frames decoded from JPEG and preprocessed, on the host.
        @Sendable func decoded(_ index: Int) -> [Float] {
            clips!.decodedBatch(first: index * batch, count: batch, preprocessing: preprocessing, threads: decoders)
        }
        /// The host side of a batch as a CPU tensor: decoded frames, or the fixed features.
        func hostFrames(_ values: [Float]?) -> Tensor {
            guard let values else { return features }
            return Tensor(values, shape: [batch, frames, 3, preprocessing.cropHeight, preprocessing.cropWidth])
        }
        func forward(_ frames: Tensor) -> [Float] {
            let input = VideoBatchInput(
                textIds: textIds.to(device), textMask: Tensor.ones([batch, config.textPositions], dtype: .int64, device: device),
                frames: device == .cpu ? frames : frames.pinned().to(device, nonBlocking: true),
                frameMask: Tensor.ones([batch, frames.size(1)], dtype: .int64, device: device),
                textPadded: false, framesPadded: false)
            let logits = withNoGrad {
                withAutocast(device, dtype: autocast ?? .bfloat16, enabled: autocast != nil) {
                    model.forward(input, train: false).logits
                }
            }
            return logits.to(.float32).toArray(Float.self)  // the prediction's one host read
        }

        var checksum = 0.0
        try Torch.catching {
            for index in 0..<warmup { checksum = Double(forward(hostFrames(clips == nil ? nil : decoded(index))).reduce(0, +)) }
        }
        var times: [Double] = []
        let started = DispatchTime.now().uptimeNanoseconds
        // The next batch's frames are decoded on the CPU while the device runs this one.
        var next = hostFrames(clips == nil ? nil : decoded(0))
        try Torch.catching {
            for index in 0..<iterations {
                let start = DispatchTime.now().uptimeNanoseconds
                let current = next
                let group = DispatchGroup()
                nonisolated(unsafe) var prepared: [Float]?
                if clips != nil, index + 1 < iterations {
                    DispatchQueue.global().async(group: group) { prepared = decoded(index + 1) }
                }
                checksum = Double(forward(current).reduce(0, +))
                group.wait()
                next = hostFrames(prepared)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let json = try JSONSerialization.data(withJSONObject: [
            "impl": "vidtag", "times_ms": times, "checksum": checksum,
            "videos_per_second": Double(batch * iterations) / seconds,
        ])
        print(String(decoding: json, as: UTF8.self))
    }

    func modelConfig() -> (FusionConfig, FrameEncoderConfig?) {
        var text = BertConfig()
        text.vocabSize = 21128
        let textPositions: Int
        let maxFrames: Int
        switch size {
        case .demo:
            (text.hiddenSize, text.numHiddenLayers, text.numAttentionHeads, text.intermediateSize) = (128, 2, 4, 256)
            (textPositions, maxFrames) = (68, 8)
        case .base:
            (textPositions, maxFrames) = (256, 32)
        }
        var encoder: FrameEncoderConfig?
        if jpeg {
            var vision = CLIPVisionConfig()
            vision.patchSize = 16
            vision.imageSize = imageSize
            vision.numHiddenLayers = encoderLayers
            encoder = .clip(vision)
        }
        let config = FusionConfig(modelType: .singleStream, modalities: .both, classes: 200, featureSize: 768,
                                  maxFrames: jpeg ? frames : maxFrames, textPositions: textPositions,
                                  separatorTokenId: 3, pooling: .mean, textConfig: text,
                                  frameEncoder: jpeg ? FrameEncoderSpec() : nil)
        return (config, encoder)
    }
}

/// A few synthetic video clips as JPEG files in memory (smooth gradients with texture, 640 × 360,
/// quality 85), decoded and preprocessed as the loader does for raw frames.
struct JPEGClips: Sendable {
    let clips: [[Data]]

    init(count: Int, frames: Int) throws {
        var clips: [[Data]] = []
        for clip in 0..<count {
            var jpegs: [Data] = []
            for frame in 0..<frames {
                let (width, height) = (640, 360)
                var pixels = [UInt8](repeating: 0, count: width * height * 3)
                for y in 0..<height {
                    for x in 0..<width {
                        let base = (y * width + x) * 3
                        let noise = (x &* 7919 &+ y &* 104729 &+ clip &* 31 &+ frame) % 23
                        pixels[base] = UInt8((x + clip * 17 + noise) % 256)
                        pixels[base + 1] = UInt8((y * 2 + frame * 9 + noise) % 256)
                        pixels[base + 2] = UInt8((x + y + noise * 3) % 256)
                    }
                }
                jpegs.append(try JPEG.encode(RGBImage(width: width, height: height, pixels: pixels), quality: 85))
            }
            clips.append(jpegs)
        }
        self.clips = clips
    }

    /// `[count, F, 3, S, S]` f32 values: videos `first ..< first + count` (cycling through the clips),
    /// decoded and preprocessed on `threads` threads.
    func decodedBatch(first: Int, count: Int, preprocessing: FramePreprocessing, threads: Int) -> [Float] {
        let frames = clips[0].count
        let frameSize = preprocessing.valuesPerFrame
        var values = [Float](repeating: 0, count: count * frames * frameSize)
        let jobs = count * frames
        values.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let output = buffer
            let next = NSLock()
            nonisolated(unsafe) var taken = 0
            DispatchQueue.concurrentPerform(iterations: min(threads, jobs)) { _ in
                while true {
                    next.lock()
                    let job = taken
                    taken += 1
                    next.unlock()
                    guard job < jobs else { return }
                    let jpeg = clips[(first + job / frames) % clips.count][job % frames]
                    guard let image = try? JPEG.decode(jpeg, minimumShorterSide: preprocessing.decodeMinimumShorterSide) else {
                        continue
                    }
                    let pixels = preprocessing.evaluationFrame(image)
                    for (offset, value) in pixels.enumerated() { output[job * frameSize + offset] = value }
                }
            }
        }
        return values
    }
}
