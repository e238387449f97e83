import Foundation
import Testing
import Torch
@testable import VidTagModels

/// The fusion models against PyTorch references written independently of vidtag (the single-stream model
/// as SingleStream.swift documents it, the challenge baseline's models.py with frame masking): fixtures
/// from scripts/fixtures/make_fusion_fixtures.py in Tests/Fixtures/fusion/.
@Suite struct FusionTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fusion")

    /// One reference case: a model config (config.json keys) and the weights file it loads.
    struct ReferenceCase: Decodable {
        var weights: String
        var config: FusionConfig
    }

    struct ReferenceCases: Decodable {
        var cases: [String: ReferenceCase]
    }

    static let caseNames = [
        "single_stream_both_mean", "single_stream_both_cls", "single_stream_text_mean", "single_stream_text_cls",
        "single_stream_frames_mean", "single_stream_frames_cls", "baseline_both", "baseline_text", "baseline_frames",
    ]

    static func referenceCase(_ name: String) throws -> ReferenceCase {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("cases.json"))
        let cases = try JSONDecoder().decode(ReferenceCases.self, from: data).cases
        return try #require(cases[name], "cases.json has no case \(name): rerun make_fusion_fixtures.py")
    }

    static func batch() throws -> [String: Tensor] {
        try SafeTensors.load(fixtures.appendingPathComponent("batch.safetensors"))
    }

    static func input(_ batch: [String: Tensor], frames: Tensor? = nil) -> VideoBatchInput {
        VideoBatchInput(textIds: batch["text_ids"]!, textMask: batch["text_mask"]!, frames: frames ?? batch["frames"]!,
                        frameMask: batch["frame_mask"]!)
    }

    /// The case's model with its reference weights, loaded strictly.
    static func model(_ name: String) throws -> (VideoClassifier, FusionConfig, [String: Tensor]) {
        let reference = try referenceCase(name)
        let store = ParameterStore(seed: 3)
        let model = try reference.config.makeModel(store: store)
        let weights = try SafeTensors.load(fixtures.appendingPathComponent(reference.weights))
        try store.load(weights, strict: true, source: reference.weights)
        return (model, reference.config, weights)
    }

    static func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Double { (a - b).abs().max().item() }

    // MARK: Parity

    @Test("logits and loss match PyTorch within 1e-5 (eval mode, fp32)", arguments: caseNames)
    func matchesPyTorch(_ name: String) throws {
        let (model, config, _) = try Self.model(name)
        #expect((model is BaselineClassifier) == name.hasPrefix("baseline"))
        #expect(name.contains(config.modalities.rawValue))
        let batch = try Self.batch()
        let expected = try SafeTensors.load(Self.fixtures.appendingPathComponent("expected.safetensors"))
        let reference = try #require(expected["\(name).logits"])

        let output = model.forward(Self.input(batch), train: false)
        #expect(output.logits.shape == reference.shape)
        let difference = Self.maxAbsDifference(output.logits, reference)
        #expect(difference <= 1e-5, "\(name): logits differ from PyTorch by \(difference)")
        let loss = output.logits.crossEntropy(batch["labels"]!).item()
        let referenceLoss = try #require(expected["\(name).loss"]).item()
        #expect(abs(loss - referenceLoss) <= 1e-5, "\(name): loss \(loss), PyTorch \(referenceLoss)")
    }

    @Test("the fixtures' cases differ from each other (a wrong modality or pooling would show)")
    func casesAreDistinct() throws {
        let expected = try SafeTensors.load(Self.fixtures.appendingPathComponent("expected.safetensors"))
        for (index, first) in Self.caseNames.enumerated() {
            for second in Self.caseNames[(index + 1)...] {
                let difference = Self.maxAbsDifference(expected["\(first).logits"]!, expected["\(second).logits"]!)
                #expect(difference > 1e-3, "\(first) and \(second) give the same logits")
            }
        }
    }

    @Test("what sits in padded frame rows changes nothing (masked out of attention, pooling and NeXtVLAD)",
          arguments: ["single_stream_both_mean", "single_stream_frames_cls", "baseline_both", "baseline_frames"])
    func paddedFramesAreIgnored(_ name: String) throws {
        let (model, _, _) = try Self.model(name)
        let batch = try Self.batch()
        let clean = model.forward(Self.input(batch), train: false).logits
        let padding = 1 - batch["frame_mask"]!.to(.float32).unsqueeze(-1)  // [B, F, 1]
        let garbage = batch["frames"]! + Tensor.randn(batch["frames"]!.shape, generator: Generator(seed: 5)) * 3 * padding
        #expect(Self.maxAbsDifference(garbage, batch["frames"]!) > 1, "the garbage must land in the padded rows")
        let noisy = model.forward(Self.input(batch, frames: garbage), train: false).logits
        #expect(Self.maxAbsDifference(clean, noisy) <= 1e-6)
    }

    @Test("a video's logits do not depend on its batch-mates' text lengths",
          arguments: ["single_stream_both_mean", "single_stream_both_cls", "baseline_both"])
    func logitsAreIndependentOfTheBatch(_ name: String) throws {
        let (model, _, _) = try Self.model(name)
        let batch = try Self.batch()
        let together = model.forward(Self.input(batch), train: false).logits
        for row in 0..<3 {
            let length = batch["text_mask"]![row].sum().intItem()
            let alone = VideoBatchInput(
                textIds: batch["text_ids"]!.slice(dim: 0, start: row, end: row + 1).slice(dim: 1, end: length),
                textMask: batch["text_mask"]!.slice(dim: 0, start: row, end: row + 1).slice(dim: 1, end: length),
                frames: batch["frames"]!.slice(dim: 0, start: row, end: row + 1),
                frameMask: batch["frame_mask"]!.slice(dim: 0, start: row, end: row + 1))
            let single = model.forward(alone, train: false).logits
            #expect(Self.maxAbsDifference(single, together.slice(dim: 0, start: row, end: row + 1)) <= 1e-5,
                    "row \(row) alone and unpadded gives other logits than in the batch")
        }
    }

    @Test("a video without frames gives finite logits in every model")
    func emptyClipIsFinite() throws {
        for name in Self.caseNames where !name.contains("_text") {
            let (model, _, _) = try Self.model(name)
            let logits = model.forward(Self.input(try Self.batch()), train: false).logits
            // Row 2 of the fixture batch has no frame at all.
            let row = logits.select(dim: 0, index: 2).toArray(Float.self)
            let finite = row.allSatisfy { $0.isFinite }
            #expect(finite, "\(name): \(row)")
        }
    }

    // MARK: Strict loading

    @Test("a missing, unexpected or mis-shaped key is an error naming the key")
    func strictLoadNamesKeys() throws {
        let (_, config, weights) = try Self.model("baseline_both")
        func loadError(_ tensors: [String: Tensor]) -> String {
            let store = ParameterStore(seed: 0)
            _ = try? config.makeModel(store: store)
            do {
                try store.load(tensors, strict: true, source: "fixture")
                return ""
            } catch {
                return "\(error)"
            }
        }
        var missing = weights
        missing["fusion.enhance.sequeeze.weight"] = nil
        #expect(loadError(missing).contains("fusion.enhance.sequeeze.weight"))
        var unexpected = weights
        unexpected["fusion.enhance.squeeze.weight"] = weights["fusion.enhance.sequeeze.weight"]
        #expect(loadError(unexpected).contains("fusion.enhance.squeeze.weight"))
        var misshaped = weights
        misshaped["nextvlad.cluster_weight"] = Tensor.zeros([1, 4, 4])
        let message = loadError(misshaped)
        #expect(message.contains("nextvlad.cluster_weight") && message.contains("[1, 4, 4]"), "\(message)")
    }

    @Test("the baseline's weights do not load into the single-stream model")
    func otherModelsWeightsAreRefused() throws {
        let (_, _, baselineWeights) = try Self.model("baseline_both")
        let single = try Self.referenceCase("single_stream_both_mean").config
        let store = ParameterStore(seed: 0)
        _ = try single.makeModel(store: store)
        #expect(throws: (any Error).self) { try store.load(baselineWeights, strict: true, source: "baseline") }
    }

    @Test("keys follow the challenge baseline's checkpoints, 'sequeeze' spelling included")
    func baselineKeys() throws {
        let (model, _, _) = try Self.model("baseline_both")
        let names = Set(model.store.names)
        for key in ["bert.pooler.dense.weight", "nextvlad.cluster_weight", "nextvlad.expansion_linear.weight",
                    "nextvlad.group_attention.bias", "nextvlad.cluster_linear.weight", "nextvlad.fc.weight",
                    "enhance.sequeeze.weight", "enhance.excitation.weight", "fusion.fusion.weight",
                    "fusion.enhance.sequeeze.weight", "classifier.weight"] {
            #expect(names.contains(key), "missing \(key)")
        }
        #expect(!names.contains("nextvlad.cluster_linear.bias"))
    }

    // MARK: Config

    @Test("config.json round-trips and an unknown model_type is an error naming it")
    func configRoundTrip() throws {
        let config = try Self.referenceCase("baseline_frames").config
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-fusion-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("config.json")
        try config.save(to: url)
        #expect(try FusionConfig.load(contentsOf: url) == config)

        let text = try String(contentsOf: url, encoding: .utf8)
        try Data(text.replacingOccurrences(of: "\"baseline\"", with: "\"dual_stream_v9\"").utf8).write(to: url)
        do {
            _ = try FusionConfig.load(contentsOf: url)
            Issue.record("an unknown model_type must be refused")
        } catch {
            #expect("\(error)".contains("dual_stream_v9") && "\(error)".contains("single_stream"), "\(error)")
        }
    }

    @Test("a BERT config.json is not taken for a vidtag model config")
    func bertConfigIsNotAFusionConfig() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-fusion-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("config.json")
        try Self.referenceCase("baseline_text").config.textConfig.save(to: url)
        do {
            _ = try FusionConfig.load(contentsOf: url)
            Issue.record("a BERT config.json must be refused")
        } catch {
            let message = "\(error)"
            #expect(message.contains(url.path))
            #expect(message.contains("bert"), "the message should say the folder holds a BERT: \(message)")
        }
    }
}
