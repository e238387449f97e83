import Foundation
import Testing
import Torch
@testable import VidTagModels

/// The dual-stream model against a PyTorch reference written independently of vidtag (plain PyTorch, as
/// DualStream.swift documents the model): fixtures from scripts/fixtures/make_dual_stream_fixtures.py in
/// Tests/Fixtures/dual_stream/. The fixture batch has padded texts and frames, empty texts (`[CLS] [SEP]`)
/// and videos without any frame.
@Suite struct DualStreamTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/dual_stream")

    /// One reference case: a model config (config.json keys) and the weight files it loads.
    struct ReferenceCase: Decodable {
        var weights: [String]
        var config: FusionConfig
    }

    struct ReferenceCases: Decodable {
        var cases: [String: ReferenceCase]
    }

    static let caseNames = [
        "dual_stream_both_mean", "dual_stream_both_cls", "dual_stream_text_mean", "dual_stream_frames_cls",
        "dual_stream_both_mean_video_head", "dual_stream_both_cls_video_head",
    ]

    static func referenceCase(_ name: String) throws -> ReferenceCase {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("cases.json"))
        let cases = try JSONDecoder().decode(ReferenceCases.self, from: data).cases
        return try #require(cases[name], "cases.json has no case \(name): rerun make_dual_stream_fixtures.py")
    }

    static func batch() throws -> [String: Tensor] {
        try SafeTensors.load(fixtures.appendingPathComponent("batch.safetensors"))
    }

    static func input(_ batch: [String: Tensor], frames: Tensor? = nil) -> VideoBatchInput {
        VideoBatchInput(textIds: batch["text_ids"]!, textMask: batch["text_mask"]!, frames: frames ?? batch["frames"]!,
                        frameMask: batch["frame_mask"]!)
    }

    static func weights(_ reference: ReferenceCase) throws -> [String: Tensor] {
        try reference.weights.reduce(into: [:]) { all, file in
            all.merge(try SafeTensors.load(fixtures.appendingPathComponent(file))) { first, _ in first }
        }
    }

    /// The case's model with its reference weights, loaded strictly.
    static func model(_ name: String) throws -> (DualStreamClassifier, [String: Tensor]) {
        let reference = try referenceCase(name)
        let store = ParameterStore(seed: 3)
        let model = try #require(try reference.config.makeModel(store: store) as? DualStreamClassifier)
        let weights = try weights(reference)
        try store.load(weights, strict: true, source: name)
        return (model, weights)
    }

    static func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Double { (a - b).abs().max().item() }

    // MARK: Parity

    @Test("logits, loss and video-head logits match PyTorch within 1e-5 (eval mode, fp32)", arguments: caseNames)
    func matchesPyTorch(_ name: String) throws {
        let (model, _) = try Self.model(name)
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

        if let referenceVideo = expected["\(name).video_logits"] {
            let video = try #require(output.videoLogits, "\(name) has a video head")
            let videoDifference = Self.maxAbsDifference(video, referenceVideo)
            #expect(videoDifference <= 1e-5, "\(name): video logits differ from PyTorch by \(videoDifference)")
        } else {
            #expect(output.videoLogits == nil)
        }
    }

    @Test("the fixtures' cases differ from each other (a wrong modality or pooling would show)")
    func casesAreDistinct() throws {
        let expected = try SafeTensors.load(Self.fixtures.appendingPathComponent("expected.safetensors"))
        let distinct = Self.caseNames.filter { !$0.hasSuffix("_video_head") }  // same logits, plus a video head
        for (index, first) in distinct.enumerated() {
            for second in distinct[(index + 1)...] {
                let difference = Self.maxAbsDifference(expected["\(first).logits"]!, expected["\(second).logits"]!)
                #expect(difference > 1e-3, "\(first) and \(second) give the same logits")
            }
        }
        let video = Self.maxAbsDifference(expected["dual_stream_both_mean_video_head.video_logits"]!,
                                          expected["dual_stream_both_cls_video_head.video_logits"]!)
        #expect(video > 1e-3, "the video head's pooling must matter")
    }

    // MARK: Padding and batch-mates

    @Test("a video's logits do not depend on its batch-mates' padding (each row alone, unpadded, frames cut to its own)",
          arguments: ["dual_stream_both_mean", "dual_stream_both_cls_video_head", "dual_stream_frames_cls"])
    func logitsAreIndependentOfTheBatch(_ name: String) throws {
        let (model, _) = try Self.model(name)
        let batch = try Self.batch()
        let together = model.forward(Self.input(batch), train: false)
        let rows = batch["text_ids"]!.size(0)
        var frameCounts: [Int] = []
        for row in 0..<rows {
            let length = batch["text_mask"]![row].sum().intItem()
            let frames = batch["frame_mask"]![row].sum().intItem()  // real frames lead, padding follows
            frameCounts.append(frames)
            func own(_ key: String, _ end: Int) -> Tensor {
                batch[key]!.slice(dim: 0, start: row, end: row + 1).slice(dim: 1, end: end)
            }
            let alone = VideoBatchInput(textIds: own("text_ids", length), textMask: own("text_mask", length),
                                        frames: own("frames", frames), frameMask: own("frame_mask", frames))
            let single = model.forward(alone, train: false)
            let difference = Self.maxAbsDifference(single.logits, together.logits.slice(dim: 0, start: row, end: row + 1))
            #expect(difference <= 1e-5, "\(name) row \(row) alone gives other logits than in the batch (\(difference))")
            if let video = single.videoLogits, let batched = together.videoLogits {
                let videoDifference = Self.maxAbsDifference(video, batched.slice(dim: 0, start: row, end: row + 1))
                #expect(videoDifference <= 1e-5, "\(name) row \(row): video logits differ (\(videoDifference))")
            }
        }
        #expect(frameCounts.contains(0), "a video without frames must be among the rows")
    }

    @Test("what sits in padded frame rows and padded text positions changes nothing",
          arguments: ["dual_stream_both_mean", "dual_stream_both_cls_video_head", "dual_stream_text_mean"])
    func paddingIsIgnored(_ name: String) throws {
        let (model, _) = try Self.model(name)
        let batch = try Self.batch()
        let clean = model.forward(Self.input(batch), train: false)
        let padding = 1 - batch["frame_mask"]!.to(.float32).unsqueeze(-1)  // [B, F, 1]
        let garbage = batch["frames"]! + Tensor.randn(batch["frames"]!.shape, generator: Generator(seed: 5)) * 3 * padding
        #expect(Self.maxAbsDifference(garbage, batch["frames"]!) > 1, "the garbage must land in the padded rows")
        let textPadding = 1 - batch["text_mask"]!
        var noisyInput = Self.input(batch, frames: garbage)
        noisyInput.textIds = (batch["text_ids"]! + textPadding * 7).to(.int64)  // other token ids where the mask is 0
        let noisy = model.forward(noisyInput, train: false)
        #expect(Self.maxAbsDifference(clean.logits, noisy.logits) <= 1e-6)
        if let a = clean.videoLogits, let b = noisy.videoLogits { #expect(Self.maxAbsDifference(a, b) <= 1e-6) }
    }

    @Test("training mode draws dropout (two passes differ) and gradients reach every group")
    func trainsEveryGroup() throws {
        let (model, _) = try Self.model("dual_stream_both_mean_video_head")
        let batch = try Self.batch()
        let first = model.forward(Self.input(batch), train: true)
        let second = model.forward(Self.input(batch), train: true)
        #expect(Self.maxAbsDifference(first.logits, second.logits) > 1e-4)
        let loss = first.logits.crossEntropy(batch["labels"]!) + first.videoLogits!.crossEntropy(batch["labels"]!)
        loss.backward()
        for name in ["bert.encoder.layer.0.attention.self.query.weight", "video_token", "video_projection.weight",
                     "video_encoder.layer.0.output.dense.weight", "fusion.layer.1.crossattention.self.key.weight",
                     "fusion.layer.0.intermediate.dense.weight", "classifier.weight", "video_classifier.weight"] {
            let gradient = try #require(model.store.entry(name)?.tensor.grad, "\(name) has no gradient")
            #expect(gradient.abs().sum().item() > 0, "\(name): zero gradient")
        }
    }

    // MARK: Keys, groups, strict loading

    @Test("keys mirror the modules and fall into the groups text, visual, fusion and head")
    func keysAndGroups() throws {
        let (model, _) = try Self.model("dual_stream_both_mean_video_head")
        let store = model.store
        var groups: [String: Set<String>] = [:]
        for name in store.names {
            let group = try #require(store.entry(name)).group
            let top = name.split(separator: ".").first.map(String.init)!
            groups[group, default: []].insert(top)
        }
        #expect(groups == [
            "text": ["bert"],
            "visual": ["video_token", "video_projection", "video_norm", "frame_position_embeddings", "video_encoder"],
            "fusion": ["fusion"],
            "head": ["classifier", "video_classifier"],
        ])
        let names = Set(store.names)
        for layer in 0..<2 {
            for key in ["attention.self.query.weight", "attention.output.LayerNorm.bias", "crossattention.self.value.bias",
                        "crossattention.output.dense.weight", "crossattention.output.LayerNorm.weight",
                        "intermediate.dense.weight", "output.dense.bias", "output.LayerNorm.weight"] {
                #expect(names.contains("fusion.layer.\(layer).\(key)"), "missing fusion.layer.\(layer).\(key)")
            }
        }
        #expect(names.contains("video_encoder.layer.0.attention.self.key.weight"))
        #expect(!names.contains("video_encoder.layer.1.attention.self.key.weight"), "video_layers is 1")
        #expect(!names.contains { $0.hasPrefix("bert.pooler") })
    }

    @Test("strict loading names a missing, unexpected or mis-shaped key and both shapes")
    func strictLoadNamesKeys() throws {
        let reference = try Self.referenceCase("dual_stream_both_mean")
        let weights = try Self.weights(reference)
        func loadError(_ tensors: [String: Tensor]) throws -> String {
            let store = ParameterStore(seed: 0)
            _ = try reference.config.makeModel(store: store)
            do {
                try store.load(tensors, strict: true, source: "fixture")
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(try loadError(weights) == "", "the reference weights load")
        var missing = weights
        missing["fusion.layer.1.crossattention.self.key.weight"] = nil
        #expect(try loadError(missing).contains("fusion.layer.1.crossattention.self.key.weight"))
        var unexpected = weights
        unexpected["fusion.layer.2.crossattention.self.key.weight"] = weights["fusion.layer.1.crossattention.self.key.weight"]
        #expect(try loadError(unexpected).contains("fusion.layer.2.crossattention.self.key.weight"))
        var misshaped = weights
        misshaped["frame_position_embeddings.weight"] = Tensor.zeros([6, 32])  // max_frames, without the video token's slot
        let message = try loadError(misshaped)
        #expect(message.contains("frame_position_embeddings.weight") && message.contains("[6, 32]")
                && message.contains("[7, 32]"), "\(message)")
        // The video head's weights are refused by a model without one.
        let withHead = try Self.weights(try Self.referenceCase("dual_stream_both_mean_video_head"))
        #expect(try loadError(withHead).contains("video_classifier.weight"))
    }

    // MARK: Config

    @Test("config.json round-trips; one written before the dual-stream settings still decodes")
    func configDecoding() throws {
        let config = try Self.referenceCase("dual_stream_both_cls").config
        #expect(config.videoLayers == 1 && config.fusionLayers == 2)
        let encoded = try JSONEncoder().encode(config)
        #expect(try JSONDecoder().decode(FusionConfig.self, from: encoded) == config)

        var old = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        old["video_layers"] = nil
        old["fusion_layers"] = nil
        old["model_type"] = "single_stream"
        let decoded = try JSONDecoder().decode(FusionConfig.self, from: try JSONSerialization.data(withJSONObject: old))
        #expect(decoded.modelType == .singleStream && decoded.pooling == .cls)
        #expect(decoded.videoLayers == FusionConfig.defaultVideoLayers && decoded.fusionLayers == FusionConfig.defaultFusionLayers)

        old["classes"] = nil
        #expect(throws: (any Error).self, "other keys stay required") {
            try JSONDecoder().decode(FusionConfig.self, from: try JSONSerialization.data(withJSONObject: old))
        }
    }
}
