import Foundation
import Testing
import Torch
import VidTagData
import VidTagModels
@testable import VidTagTraining

/// Raw frames through a frame encoder inside the training step (end to end).
@Suite(.serialized) struct EndToEndFramesTests {
    static let encoder = FeatureExtractionTests.encoderFolder.path

    static func train(_ extra: [String]) throws -> (RunFolder, TrainingSession.Outcome) {
        let config = try TrainingFixture.tinyConfig([
            "model.frame_encoder=\(encoder)", "data.frame_source=frames", "train.max_steps=4", "train.eval_every=2",
        ] + extra)
        let run = RunFolder(TrainingFixture.temporaryFolder("e2e"))
        let outcome = try TrainingFixture.session(config, run: run.url).train()
        return (run, outcome)
    }

    static func pretrained() throws -> [String: Tensor] {
        try SafeTensors.load(FrameEncoderFolder(FeatureExtractionTests.encoderFolder).weightsURL)
    }

    @Test("the encoder trains with its own group; frozen it keeps the pretrained weights bit for bit")
    func encoderGroupAndFreeze() throws {
        let reference = try Self.pretrained()
        let key = "vision_model.embeddings.patch_embedding.weight"
        let original = try #require(reference[key] ?? reference[String(key.dropFirst("vision_model.".count))])

        let (trained, _) = try Self.train([])
        let weights = try SafeTensors.load(trained.model.weightsURL)
        let moved = try #require(weights["frame_encoder.\(key)"])
        #expect((moved - original).abs().max().item() > 0, "trained end to end, the encoder's weights move")
        let config = try FusionConfig.load(contentsOf: trained.model.configURL)
        #expect(config.frameEncoder != nil)
        #expect(FileManager.default.fileExists(atPath: trained.model.frameEncoderURL.appendingPathComponent("preprocessor_config.json").path))

        let (frozen, _) = try Self.train(["model.freeze_frame_encoder=true"])
        let kept = try #require(try SafeTensors.load(frozen.model.weightsURL)["frame_encoder.\(key)"])
        #expect(kept.rawBytes() == original.rawBytes(), "frozen, the encoder keeps its pretrained weights")
    }

    @Test("the model folder alone rebuilds the encoder and its frame pipeline, and predicts")
    func reloadsAndPredicts() throws {
        let (run, _) = try Self.train([])
        let runner = try ModelRunner(model: run.url, device: .cpu, workers: 1, batchSize: 8)
        #expect(runner.loaded.model.frameEncoder != nil)
        let (predictions, index) = try runner.predict(data: TrainingFixture.demo, split: "test_a")
        #expect(predictions.count == index.count)
        #expect(predictions.probabilities.allSatisfy { $0.isFinite })
    }

    @Test("raw frames without an encoder, or an encoder with features, is refused with the fix")
    func mismatchedSettingsAreRefused() throws {
        let withoutEncoder = try TrainingFixture.tinyConfig(["data.frame_source=frames"])
        #expect(throws: ConfigError.self) {
            _ = try TrainingFixture.session(withoutEncoder, run: TrainingFixture.temporaryFolder("e2e-bad")).train()
        }
        let withFeatures = try TrainingFixture.tinyConfig(["model.frame_encoder=\(Self.encoder)"])
        #expect(throws: ConfigError.self) {
            _ = try TrainingFixture.session(withFeatures, run: TrainingFixture.temporaryFolder("e2e-bad")).train()
        }
    }
}

extension EndToEndFramesTests {
    @Test("vidtag average of an end-to-end run keeps frame_encoder/: the averaged model loads and predicts",
          .enabled(if: TrainingFixture.vidtagBinary != nil, Comment(rawValue: TrainingFixture.binaryMissing)))
    func averagedEndToEndModelLoads() throws {
        let (run, _) = try Self.train(["tricks.keep_snapshots=2"])
        defer { try? FileManager.default.removeItem(at: run.url) }
        let (status, output) = try TrainingFixture.runVidtag(["average", "--model", run.url.path, "--last", "2"])
        #expect(status == 0, "\(output)")
        let averaged = run.url.appendingPathComponent("swa")
        #expect(FileManager.default.fileExists(atPath: ModelFolder(averaged).frameEncoderURL.appendingPathComponent("config.json").path))
        let runner = try ModelRunner(model: averaged, device: .cpu, workers: 1, batchSize: 8)
        let (predictions, index) = try runner.predict(data: TrainingFixture.demo, split: "test_a")
        #expect(predictions.count == index.count && predictions.probabilities.allSatisfy { $0.isFinite })
    }
}
