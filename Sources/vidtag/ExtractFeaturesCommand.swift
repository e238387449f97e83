import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagModels
import VidTagTraining

/// `vidtag extract-features`: the two-stage route from raw frames to the challenge's feature zips.
struct ExtractFeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract-features",
        abstract: "Encode zip_frames with a frame encoder (ViT, CLIP, Swin) into zip_feats/{split}.zip.",
        discussion: """
            The encoder is a Hugging Face folder: config.json, preprocessor_config.json (size, mean, std) and
            model.safetensors. Each video gets one float16 row per frame ({id}.npy, [n, D]). An interrupted
            run resumes: finished videos are kept in zip_feats/.{split}.partial/ until the zip is written.
            """)

    @Option(help: "Frame encoder folder.") var encoder: String
    @Option(help: "Data root.") var data: String
    @Option(help: "Split to encode.") var split = "labeled"
    @Option(help: "cpu or cuda[:n].") var device = "cpu"
    @Option(help: "Frames per forward pass.") var batchFrames = 64
    @Option(help: "Frames kept per video (even stride).") var maxFrames = 32
    @Option(help: "fp32, bf16 or fp16 (autocast).") var dtype = "fp32"
    @Option(help: "Intra-op CPU threads (0: all cores).") var threads = 0

    func run() throws {
        try Runtime.checkVersion()
        Runtime.threads = threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount
        guard let type = DType(name: dtype), [.float32, .bfloat16, .float16].contains(type) else {
            throw ValidationError("--dtype \(dtype): expected fp32, bf16 or fp16")
        }
        let device = try Device(parsing: device, setting: "--device")
        let folder = FrameEncoderFolder(URL(fileURLWithPath: encoder))
        let store = ParameterStore(device: device)
        let (model, report) = try folder.loadEncoder(store.root)
        print("encoder: \(report)")
        let preprocessing = try FramePreprocessing(encoder: try folder.preprocessing(), fallbackSize: model.imageSize)
        let extraction = FeatureExtraction(encoder: model, preprocessing: preprocessing, device: device,
                                           batchFrames: batchFrames, maxFrames: maxFrames,
                                           autocast: type == .float32 ? nil : type)
        let started = Date()
        var lastPrint = Date.distantPast
        StopSignal.install()
        let summary = try extraction.run(data: DataRoot(path: data), split: split, progress: { done, total in
            if Date().timeIntervalSince(lastPrint) > 2 || done == total {
                lastPrint = Date()
                print("\(done)/\(total) videos")
            }
        }, shouldStop: { StopSignal.requested })
        if summary.output == nil, StopSignal.requested {
            print("stopped by signal \(StopSignal.signal) after \(summary.videos + summary.skippedAlreadyDone) videos; "
                + "rerun the same command to continue")
            throw ExitCode(StopSignal.exitCode)
        }
        let seconds = Date().timeIntervalSince(started)
        print(String(format: "%@: %d videos (%d already done), %d frames, %d without frames in %.1f s "
                     + "(decoding %.1f s, encoder %.1f s)", summary.output?.path ?? "", summary.videos,
                     summary.skippedAlreadyDone, summary.frames, summary.emptyVideos, seconds, summary.decodeSeconds,
                     summary.encodeSeconds))
        if summary.report.unreadableFrames + summary.report.missingZips + summary.report.unreadableZips > 0 {
            print("frames: \(summary.report)")
        }
    }
}
