import Foundation
import Testing
import Torch
@testable import VidTagData
@testable import VidTagModels
@testable import VidTagTraining

/// The tricks that shape the loss and the update, each against a computation written out by hand: the
/// auxiliary video head's loss term, the learning rate and weight decay of every parameter, and FGM, PGD and
/// R-Drop inside `Trainer.step`.
enum TrickStepFixture {
    static let classes = 5

    /// A single-stream model small enough to train in milliseconds, with dropout everywhere (BERT, the
    /// multi-sample head, the video head), its weights drawn from the store's seed.
    static func model(layers: Int = 2, seed: UInt64 = 7) throws -> VideoClassifier {
        var text = BertConfig()
        text.vocabSize = 24
        text.hiddenSize = 16
        text.numHiddenLayers = layers
        text.numAttentionHeads = 2
        text.intermediateSize = 32
        text.maxPositionEmbeddings = 16
        text.hiddenDropoutProb = 0.2
        text.attentionProbsDropoutProb = 0.2
        let fusion = FusionConfig(
            modelType: .singleStream, modalities: .both, classes: classes, featureSize: 6, maxFrames: 3,
            textPositions: 10, separatorTokenId: 3, pooling: .mean, dropout: 0.2, headSamples: 2, videoHead: true,
            textConfig: text)
        return try fusion.makeModel(store: ParameterStore(seed: seed))
    }

    /// Four labelled videos with texts of different lengths (padding included) and 2 or 3 real frames.
    static func batch(offset: Int = 0) throws -> Batch {
        let frames = Tensor.randn([4 * 3 * 6], generator: Generator(seed: UInt64(40 + offset))).toArray(Float.self)
        let samples = (0..<4).map { row -> Sample in
            let ids: [Int32] = Array([2, Int32(5 + row + offset), 9, 3, Int32(12 + row), 3, 17, 3].prefix(5 + row))
            return Sample(
                position: row, id: "video\(offset + row)",
                text: EncodedText(ids: ids, attentionMask: ids.map { _ in 1 }, tokenTypeIDs: ids.map { _ in 0 },
                                  segmentRanges: []),
                frames: Array(frames[(row * 18)..<((row + 1) * 18)]), frameShape: [6],
                frameMask: row % 2 == 0 ? [1, 1, 1] : [1, 1, 0], label: (row + offset) % classes, report: LoadReport())
        }
        return try Batch(collating: samples, paddingID: 0)
    }

    /// The loss every test here trains with: label smoothing, class weights and the video head's term on.
    static func objective() -> Objective {
        Objective(classWeights: Tensor([1, 0.5, 2, 1, 1.5] as [Float]), labelSmoothing: 0.1, videoLossWeight: 0.5)
    }

    static func labelSpace() throws -> LabelSpace {
        try LabelSpace(level2Ids: (0..<classes).map { String(format: "01%02d", $0) })
    }

    /// A trainer over `model` (nothing is written: only `step` and the optimizer's set-up are used).
    static func trainer(_ model: VideoClassifier, overrides: [String]) throws -> Trainer {
        let config = try RunConfig.resolve(overrides: ["train.max_steps=10", "train.warmup_ratio=0"] + overrides)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-trickstep-unused-\(UUID().uuidString)")
        return Trainer(config: config, run: RunFolder(folder), model: model, labels: try labelSpace(), device: .cpu,
                       batchesPerEpoch: 10, objective: objective())
    }

    /// Every trainable parameter's gradient by name (nil gradients left out).
    static func gradients(_ store: ParameterStore) -> [String: Tensor] {
        var gradients: [String: Tensor] = [:]
        for entry in store.trainable() { if let grad = entry.tensor.grad { gradients[entry.name] = grad.clone() } }
        return gradients
    }

    static func weights(_ store: ParameterStore) -> [String: Tensor] {
        var weights: [String: Tensor] = [:]
        for entry in store.trainable() { weights[entry.name] = entry.tensor.detach().clone() }
        return weights
    }
}

// MARK: The video head's loss term

@Suite struct VideoHeadLossTests {
    static let logits: [[Double]] = [[1.0, -0.5, 2.0, 0.3], [0.2, 0.1, -1.0, 1.5], [-0.7, 0.9, 0.4, 0.0]]
    static let videoLogits: [[Double]] = [[0.3, 0.8, -0.2, -1.1], [1.2, -0.4, 0.6, 0.0], [0.1, 0.1, 2.2, -0.3]]
    static let labels = [2, 0, 3]
    static let classWeights = [0.5, 1.0, 2.0, 1.5]

    /// PyTorch's cross-entropy (mean reduction) written out: with class weights w and smoothing ε over C
    /// classes, (1 − ε) Σᵢ w_yᵢ (−log pᵢ,yᵢ) / Σᵢ w_yᵢ + ε / C · Σᵢ Σ_c w_c (−log pᵢ,c) / Σᵢ w_yᵢ.
    static func crossEntropy(_ logits: [[Double]], labels: [Int], weights: [Double]?, smoothing: Double) -> Double {
        let classes = logits[0].count
        let w = weights ?? [Double](repeating: 1, count: classes)
        var target = 0.0, spread = 0.0, normaliser = 0.0
        for (row, label) in zip(logits, labels) {
            let top = row.max()!
            let logSumExp = top + Foundation.log(row.map { Foundation.exp($0 - top) }.reduce(0, +))
            let logProbabilities = row.map { $0 - logSumExp }
            target += -w[label] * logProbabilities[label]
            spread += -zip(w, logProbabilities).map { $0 * $1 }.reduce(0, +)
            normaliser += w[label]
        }
        return (1 - smoothing) * target / normaliser + smoothing / Double(classes) * spread / normaliser
    }

    static func tensor(_ rows: [[Double]]) -> Tensor {
        Tensor(rows.flatMap { $0.map(Float.init) }, shape: [rows.count, rows[0].count])
    }

    static func output(video: Bool) -> ClassifierOutput {
        ClassifierOutput(logits: tensor(logits), videoLogits: video ? tensor(videoLogits) : nil, pooled: Tensor.zeros([3, 2]))
    }

    @Test("total = CE(logits) + w · CE(video logits), with class weights and label smoothing on and off",
          arguments: [false, true], [0.0, 0.1])
    func totalIsTheSumOfBothTerms(weighted: Bool, smoothing: Double) {
        let weights = weighted ? Self.classWeights : nil
        let objective = Objective(classWeights: weights.map { Tensor($0.map(Float.init)) }, labelSmoothing: smoothing,
                                  videoLossWeight: 0.7)
        let labels = Tensor(Self.labels.map(Int64.init), shape: [3])
        let main = Self.crossEntropy(Self.logits, labels: Self.labels, weights: weights, smoothing: smoothing)
        let video = Self.crossEntropy(Self.videoLogits, labels: Self.labels, weights: weights, smoothing: smoothing)
        let total = objective.loss(Self.output(video: true), labels: labels).item()
        #expect(abs(total - (main + 0.7 * video)) < 1e-6, "total \(total), by hand \(main) + 0.7 · \(video)")
        #expect(abs(video - main) > 0.1, "the two terms differ, so a missing or doubled term would show")
        // Without video logits, or with weight 0, the loss is the main term alone.
        #expect(abs(objective.loss(Self.output(video: false), labels: labels).item() - main) < 1e-6)
        var noVideoTerm = objective
        noVideoTerm.videoLossWeight = 0
        #expect(abs(noVideoTerm.loss(Self.output(video: true), labels: labels).item() - main) < 1e-6)
    }

    @Test("the hand formula itself on uniform logits: log C, and with weights and smoothing PyTorch's normalisation")
    func handFormulaOnUniformLogits() {
        let uniform = [[Double]](repeating: [0, 0, 0, 0], count: 3)
        for smoothing in [0.0, 0.1] {
            let plain = Self.crossEntropy(uniform, labels: Self.labels, weights: nil, smoothing: smoothing)
            #expect(abs(plain - Foundation.log(4.0)) < 1e-12)
        }
        let weighted = Self.crossEntropy(uniform, labels: Self.labels, weights: Self.classWeights, smoothing: 0)
        #expect(abs(weighted - Foundation.log(4.0)) < 1e-12)
        // The smoothing term is normalised by the label weights (2 + 0.5 + 1.5 = 4) while it sums all
        // class weights (5) per row: (0.9 + 0.1 / 4 · 3 · 5 / 4) log 4 = 0.99375 log 4.
        let both = Self.crossEntropy(uniform, labels: Self.labels, weights: Self.classWeights, smoothing: 0.1)
        #expect(abs(both - 0.99375 * Foundation.log(4.0)) < 1e-12)
    }
}

// MARK: Learning rates and weight decay per parameter

@Suite struct GroupLearningRateTests {
    /// The per-layer BERT parameters of vidtag's BERT (Hugging Face names), without `.weight` / `.bias`.
    static let denseInLayer = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                               "intermediate.dense", "output.dense"]
    static let normsInLayer = ["attention.output.LayerNorm", "output.LayerNorm"]

    /// What each parameter of the tiny single-stream model must get, written out: BERT layer l of L at
    /// text · decay^(L − 1 − l), the embeddings at text · decay^L, the visual and head groups at their own
    /// rates; weight decay 0 on biases and LayerNorm weights, `weightDecay` on everything else.
    static func expectedTable(layers: Int, text: Double, visual: Double, head: Double, layerDecay: Double,
                              weightDecay: Double) -> [String: (rate: Double, decay: Double)] {
        var table: [String: (rate: Double, decay: Double)] = [:]
        let embeddings = text * pow(layerDecay, Double(layers))
        for name in ["word_embeddings", "position_embeddings", "token_type_embeddings"] {
            table["bert.embeddings.\(name).weight"] = (embeddings, weightDecay)
        }
        table["bert.embeddings.LayerNorm.weight"] = (embeddings, 0)
        table["bert.embeddings.LayerNorm.bias"] = (embeddings, 0)
        for layer in 0..<layers {
            let rate = text * pow(layerDecay, Double(layers - 1 - layer))
            for dense in denseInLayer {
                table["bert.encoder.layer.\(layer).\(dense).weight"] = (rate, weightDecay)
                table["bert.encoder.layer.\(layer).\(dense).bias"] = (rate, 0)
            }
            for norm in normsInLayer {
                table["bert.encoder.layer.\(layer).\(norm).weight"] = (rate, 0)
                table["bert.encoder.layer.\(layer).\(norm).bias"] = (rate, 0)
            }
        }
        table["video_projection.weight"] = (visual, weightDecay)
        table["video_projection.bias"] = (visual, 0)
        table["video_norm.weight"] = (visual, 0)  // a LayerNorm
        table["video_norm.bias"] = (visual, 0)
        table["frame_position_embeddings.weight"] = (visual, weightDecay)
        for classifier in ["classifier", "video_classifier"] {
            table["\(classifier).weight"] = (head, weightDecay)
            table["\(classifier).bias"] = (head, 0)
        }
        return table
    }

    /// Each parameter's (rate, decay) in `groups`; a parameter in two groups fails the test.
    static func actualTable(_ groups: [AdamW.Group]) -> [String: (rate: Double, decay: Double)] {
        var table: [String: (rate: Double, decay: Double)] = [:]
        for group in groups {
            for (name, _) in group.parameters {
                #expect(table[name] == nil, "\(name) is in two groups")
                table[name] = (group.learningRate, group.weightDecay)
            }
        }
        return table
    }

    static func compare(_ actual: [String: (rate: Double, decay: Double)], _ expected: [String: (rate: Double, decay: Double)]) {
        #expect(actual.keys.sorted() == expected.keys.sorted())
        for (name, want) in expected.sorted(by: { $0.key < $1.key }) {
            guard let got = actual[name] else { continue }
            #expect(abs(got.rate - want.rate) <= 1e-12 * want.rate, "\(name): rate \(got.rate), expected \(want.rate)")
            #expect(got.decay == want.decay, "\(name): weight decay \(got.decay), expected \(want.decay)")
        }
    }

    @Test("the trainer's optimizer: per BERT layer, the embeddings, the other groups, and the no-decay set",
          arguments: [0.5, 1.0])
    func trainerGroupsPerParameter(layerDecay: Double) throws {
        let model = try TrickStepFixture.model(layers: 3)
        let trainer = try TrickStepFixture.trainer(model, overrides: [
            "train.text_learning_rate=1e-4", "train.visual_learning_rate=3e-4", "train.head_learning_rate=2e-3",
            "train.weight_decay=0.05", "tricks.layer_decay=\(layerDecay)",
        ])
        let expected = Self.expectedTable(layers: 3, text: 1e-4, visual: 3e-4, head: 2e-3, layerDecay: layerDecay,
                                          weightDecay: 0.05)
        Self.compare(Self.actualTable(trainer.optimizer.groups), expected)
        if layerDecay == 0.5 {
            // Spelled out once: layer 2 (the top) 1e-4, layer 1 5e-5, layer 0 2.5e-5, embeddings 1.25e-5.
            let actual = Self.actualTable(trainer.optimizer.groups)
            let spot = [
                "bert.encoder.layer.2.output.dense.weight": 1e-4, "bert.encoder.layer.1.attention.self.key.bias": 5e-5,
                "bert.encoder.layer.0.intermediate.dense.weight": 2.5e-5, "bert.embeddings.word_embeddings.weight": 1.25e-5,
            ]
            for (name, rate) in spot { #expect(abs((actual[name]?.rate ?? 0) - rate) <= 1e-18, "\(name)") }
        }
    }

    @Test("the BERT pooler keeps the text rate; frame encoders get no layer decay and no decay on any LayerNorm weight")
    func otherParameters() {
        let store = ParameterStore(seed: 1)
        let text = store.root.inGroup("text")
        for name in ["bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.output.dense.weight",
                     "bert.encoder.layer.1.output.dense.bias", "bert.pooler.dense.weight"] {
            _ = text.parameter(name, shape: [2], initializer: .zeros)
        }
        _ = store.root.inGroup("frame_encoder").parameter("frame_encoder.encoder.layer.0.mlp.fc1.weight", shape: [2],
                                                          initializer: .zeros)
        // The LayerNorms of the frame encoders, as their Hugging Face checkpoints name them (ViT, CLIP, Swin).
        let encoderNorms = [
            "frame_encoder.encoder.layer.0.layernorm_before.weight", "frame_encoder.encoder.layer.0.layernorm_after.weight",
            "frame_encoder.layernorm.weight", "frame_encoder.vision_model.encoder.layers.0.layer_norm1.weight",
            "frame_encoder.vision_model.encoder.layers.0.layer_norm2.weight", "frame_encoder.vision_model.pre_layrnorm.weight",
            "frame_encoder.vision_model.post_layernorm.weight", "frame_encoder.embeddings.norm.weight",
            "frame_encoder.encoder.layers.0.downsample.norm.weight",
            "frame_encoder.encoder.layers.0.blocks.1.layernorm_after.weight",
        ]
        for name in encoderNorms {
            _ = store.root.inGroup("frame_encoder").parameter(name, shape: [2], initializer: .zeros)
        }
        let rates = GroupLearningRates(rates: ["text": 1e-3, "frame_encoder": 1e-4, "head": 2e-3], weightDecay: 0.01,
                                       layerDecay: 0.5)
        let actual = Self.actualTable(rates.optimizerGroups(for: store, bertLayers: 2))
        var expected: [String: (rate: Double, decay: Double)] = [
            "bert.embeddings.word_embeddings.weight": (2.5e-4, 0.01),
            "bert.encoder.layer.0.output.dense.weight": (5e-4, 0.01),
            "bert.encoder.layer.1.output.dense.bias": (1e-3, 0),
            "bert.pooler.dense.weight": (1e-3, 0.01),
            "frame_encoder.encoder.layer.0.mlp.fc1.weight": (1e-4, 0.01),
        ]
        for name in encoderNorms { expected[name] = (1e-4, 0) }
        Self.compare(actual, expected)
    }
}

// MARK: FGM, PGD and R-Drop inside Trainer.step

extension TrainingRunTests {
    /// `Trainer.step` with each adversarial / consistency trick against the same calls composed by hand on a
    /// twin model (same initial weights, each side's dropout from its own stream of the same seed).
    @Suite struct TrickStep {
        enum Trick: String, CaseIterable, Sendable {
            case fgm, pgd, rdrop
        }

        static let adversarialKey = "bert.embeddings.word_embeddings.weight"
        static let seed: UInt64 = 31
        static let rdropAlpha = 2.0

        static func units(_ trick: Trick, store: ParameterStore) throws -> TrickUnits {
            let target = try AdversarialTarget(store: store, keys: [adversarialKey])
            switch trick {
            case .fgm: return TrickUnits(fgm: FGM(target: target, epsilon: 1.0))
            case .pgd: return TrickUnits(pgd: PGD(target: target, epsilon: 1.0, alpha: 0.3, steps: 3))
            case .rdrop: return TrickUnits(rdrop: RDrop(alpha: rdropAlpha))
            }
        }

        /// The step written out on `model`: per micro-batch forward → loss → backward, then the trick's extra
        /// pass; nil `trick` is the plain step. Returns the summed clean loss, as `step` does.
        static func handStep(_ model: VideoClassifier, trick: Trick?, batches: [Batch]) throws -> Double {
            let objective = TrickStepFixture.objective()
            let store = model.store
            let parameters = store.trainable().map(\.tensor)
            let share = 1 / Double(batches.count)
            var total = 0.0
            for batch in batches {
                let input = batch.input(on: .cpu)
                let labels = batch.labelTensor(on: .cpu)
                func taskLoss() -> Tensor {
                    let first = model.forward(input, train: true)
                    guard trick == .rdrop else { return objective.loss(first, labels: labels) }
                    // R-Drop by hand: the mean of both task losses + α · ½ (KL(p₁‖p₂) + KL(p₂‖p₁)), batch mean.
                    let second = model.forward(input, train: true)
                    let (log1, log2) = (first.logits.logSoftmax(dim: -1), second.logits.logSoftmax(dim: -1))
                    let rows = Double(first.logits.size(0))
                    let kl12 = (log1.exp() * (log1 - log2)).sum() / rows
                    let kl21 = (log2.exp() * (log2 - log1)).sum() / rows
                    return (objective.loss(first, labels: labels) + objective.loss(second, labels: labels)) * 0.5
                        + (kl12 + kl21) * (0.5 * rdropAlpha)
                }
                let loss = taskLoss() * share
                loss.backward()
                total += loss.item()
                switch trick {
                case .fgm:
                    FGM(target: try AdversarialTarget(store: store, keys: [adversarialKey]), epsilon: 1.0)
                        .withPerturbation { (taskLoss() * share).backward() }
                case .pgd:
                    PGD(target: try AdversarialTarget(store: store, keys: [adversarialKey]), epsilon: 1.0, alpha: 0.3, steps: 3)
                        .withPerturbations(parameters: parameters) { _ in (taskLoss() * share).backward() }
                case .rdrop, nil:
                    break
                }
            }
            return total
        }

        /// Runs `body` with dropout drawing from a fresh stream seeded with `seed`, as `Trainer.train` runs each
        /// step: the thread's own generator, which tests running in parallel cannot draw from.
        static func seeded<R>(_ body: () throws -> R) rethrows -> R {
            try DropoutStream(seed: seed, device: .cpu).withDropout(body)
        }

        static func maxDifference(_ a: [String: Tensor], _ b: [String: Tensor]) -> Double {
            TrainingFixture.maxAbsDifference(a, b)
        }

        @Test("the step's gradients and updated weights equal the hand-composed calls on a twin",
              arguments: Trick.allCases, [1, 2])
        func stepEqualsHandComposition(trick: Trick, microBatches: Int) throws {
            Runtime.threads = 1
            let batches = try (0..<microBatches).map { try TrickStepFixture.batch(offset: $0) }
            let overrides = ["train.clip_norm=0", "train.weight_decay=0.01", "train.text_learning_rate=1e-3",
                             "train.visual_learning_rate=1e-3", "train.head_learning_rate=1e-3"]

            // The trainer's side.
            let model = try TrickStepFixture.model()
            let initial = TrickStepFixture.weights(model.store)
            let trainer = try TrickStepFixture.trainer(model, overrides: overrides)
            trainer.tricks = try Self.units(trick, store: model.store)
            let loss = try Self.seeded { try trainer.step(batches) }.item()
            #expect(trainer.state.step == 1)
            #expect(TrickStepFixture.gradients(model.store).isEmpty, "step leaves the gradients cleared")
            // AdamW's first moment after its first step is (1 − β₁) · g: the gradient the step used.
            let moments = trainer.optimizer.stateDict().tensors
            var used: [String: Tensor] = [:]
            for (key, moment) in moments where key.hasPrefix("exp_avg.") {
                used[String(key.dropFirst("exp_avg.".count))] = moment / (1 - trainer.optimizer.beta1)
            }

            // The twin, by hand.
            let twin = try TrickStepFixture.model()
            #expect(Self.maxDifference(TrickStepFixture.weights(twin.store), initial) == 0, "the twins start equal")
            let handLoss = try Self.seeded { try Self.handStep(twin, trick: trick, batches: batches) }
            let handGradients = TrickStepFixture.gradients(twin.store)
            #expect(abs(loss - handLoss) <= 1e-6, "loss \(loss), by hand \(handLoss)")
            let gradientDifference = Self.maxDifference(used, handGradients)
            #expect(gradientDifference <= 1e-6, "\(trick): gradients differ from the hand composition by \(gradientDifference)")

            // The same AdamW update by hand gives the same weights.
            let groups = GroupLearningRates(rates: trainer.config.learningRates, weightDecay: 0.01)
            let optimizer = AdamW(groups: groups.optimizerGroups(for: twin.store))
            optimizer.step(learningRateScale: trainer.schedule.multiplier(at: 0))
            let weightDifference = Self.maxDifference(TrickStepFixture.weights(model.store), TrickStepFixture.weights(twin.store))
            #expect(weightDifference <= 1e-6, "\(trick): weights after the step differ by \(weightDifference)")
            #expect(Self.maxDifference(TrickStepFixture.weights(model.store), initial) > 1e-4, "the step moved the weights")

            // The comparison can tell: the plain step's gradients are far from the trick's.
            let plain = try TrickStepFixture.model()
            _ = try Self.seeded { try Self.handStep(plain, trick: nil, batches: batches) }
            let trickEffect = Self.maxDifference(TrickStepFixture.gradients(plain.store), handGradients)
            #expect(trickEffect > 1e-3, "\(trick) changes the gradients (by \(trickEffect))")
        }
    }
}
