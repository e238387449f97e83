import Foundation
import Testing
import Torch
@testable import VidTagData
import VidTagModels
@testable import VidTagTraining

/// The pretraining tasks' host-side choices and their losses against PyTorch / Hugging Face
/// (Tests/Fixtures/pretraining, made by scripts/fixtures/make_pretraining_fixtures.py).
@Suite("Pretraining tasks")
struct PretrainingTaskTests {
    static let fixtures = TrainingFixture.repository.appendingPathComponent("Tests/Fixtures/pretraining")
    /// The losses are computed in fp32 on both sides; the tolerance covers summation order.
    static let tolerance = 1e-5

    /// `rows` texts of 20–60 tokens `[CLS] … [SEP]` over a 1,000-token vocabulary (ids 0–4 special), right-padded.
    static func textBatch(rows: Int, seed: UInt64) throws -> TokenBatch {
        var generator = SplitMix64(seed: seed)
        let texts = (0..<rows).map { _ -> EncodedText in
            let count = 20 + generator.uniform(below: 41)
            let inner = (0..<(count - 2)).map { _ in Int32(5 + generator.uniform(below: 995)) }
            return EncodedText(ids: [2] + inner + [3], attentionMask: [Int32](repeating: 1, count: count),
                               tokenTypeIDs: [Int32](repeating: 0, count: count), segmentRanges: [])
        }
        return try TokenBatch(collating: texts, paddingID: 0)
    }

    @Test("MLM masking: 15 % of the real non-special tokens chosen, of those 80 % [MASK], 10 % random, 10 % kept; specials and padding never")
    func maskingStatistics() throws {
        let text = try Self.textBatch(rows: 256, seed: 7)
        let special: Set<Int32> = [0, 1, 2, 3, 4]
        var generator = SeedDerivation.generator(42, 1)
        let masked = MaskedTokens(text, probability: 0.15, special: special, maskID: 4, vocabularySize: 1000,
                                  generator: &generator)
        let eligible = text.ids.indices.filter { text.attentionMask[$0] != 0 && !special.contains(text.ids[$0]) }
        #expect(eligible.count > 8000)
        let share = Double(masked.chosen.count) / Double(eligible.count)
        // Binomial standard deviation at n ≈ 10,000 is 0.0036: ±0.015 is four of them.
        #expect(abs(share - 0.15) < 0.015, "chosen share \(share)")
        let chosen = Set(masked.chosen)
        for position in text.ids.indices {
            if chosen.contains(position) {
                #expect(masked.labels[position] == text.ids[position])
            } else {
                #expect(masked.labels[position] == MaskedTokens.ignored)
                #expect(masked.ids[position] == text.ids[position], "an unchosen position changed")
            }
            if text.attentionMask[position] == 0 || special.contains(text.ids[position]) {
                #expect(!chosen.contains(position), "special or padding position \(position) was chosen")
            }
        }
        let count = Double(masked.chosen.count)
        let toMask = Double(masked.chosen.filter { masked.ids[$0] == 4 }.count) / count
        let kept = Double(masked.chosen.filter { masked.ids[$0] == text.ids[$0] }.count) / count
        let random = 1 - toMask - kept
        // n ≈ 1,500 chosen: standard deviations 0.010 (80 %) and 0.008 (10 %); ±0.035 is over three.
        #expect(abs(toMask - 0.8) < 0.035, "[MASK] share \(toMask)")
        #expect(abs(random - 0.1) < 0.035, "random share \(random)")
        #expect(abs(kept - 0.1) < 0.035, "kept share \(kept)")

        var again = SeedDerivation.generator(42, 1)
        #expect(MaskedTokens(text, probability: 0.15, special: special, maskID: 4, vocabularySize: 1000, generator: &again) == masked)
    }

    @Test("MFM masking: 15 % of the real frames, never padding")
    func frameMaskingStatistics() {
        var generator = SplitMix64(seed: 3)
        let frameMask = (0..<4000).map { _ in Int32(generator.uniform(below: 4) == 0 ? 0 : 1) }
        var draw = SeedDerivation.generator(42, 2)
        let masked = MaskedFrames(frameMask: frameMask, probability: 0.15, generator: &draw)
        let real = frameMask.filter { $0 != 0 }.count
        #expect(masked.chosen.allSatisfy { frameMask[$0] != 0 }, "a padding frame was chosen")
        let share = Double(masked.chosen.count) / Double(real)
        #expect(abs(share - 0.15) < 0.02, "chosen share \(share) of \(real) real frames")
    }

    @Test("ITM pairs: a negative always gets another row's frames, about the share asked, none in a batch of one")
    func negativesNeverMatch() {
        var negatives = 0
        var rows = 0
        for seed in 0..<200 {
            let count = 1 + seed % 32
            var generator = SeedDerivation.generator(UInt64(seed), 5)
            let pairs = VideoTextPairs(rows: count, probability: 0.5, generator: &generator)
            #expect(pairs.frameSource.count == count)
            for row in 0..<count {
                #expect((0..<count).contains(pairs.frameSource[row]))
                if !pairs.matches(row) {
                    #expect(pairs.frameSource[row] != row)
                    negatives += 1
                }
            }
            if count == 1 { #expect(pairs.matches(0)) }
            rows += count
        }
        let share = Double(negatives) / Double(rows)
        #expect(abs(share - 0.5) < 0.03, "negative share \(share) (a draw that could land on its own row lowers it)")
    }

    @Test("a batch's choices are fixed by (seed, epoch, batch): negatives never get their own video's frames")
    func planIsFixedAndNegativesAreOtherVideos() throws {
        let loader = try Self.demoLoader()
        let (model, heads, vocabulary) = try Self.tinyModel(vocabularySize: nil)
        var settings = RunConfig.PretrainSettings()
        settings.itmProbability = 0.5
        let objective = PretrainingObjective(model: model, heads: heads, settings: settings, seed: 11, vocabulary: vocabulary)
        let first = try loader.makeBatch(epoch: 0, batch: 0)
        let plan = objective.plan(for: first)
        #expect(objective.plan(for: try loader.makeBatch(epoch: 0, batch: 0)) == plan)
        #expect(objective.plan(for: try loader.makeBatch(epoch: 1, batch: 0)) != plan)
        let pairs = try #require(plan.pairs)
        #expect(pairs.matchedRows.count < first.count, "some rows should be negatives")
        for row in 0..<first.count where !pairs.matches(row) {
            #expect(first.ids[pairs.frameSource[row]] != first.ids[row])
        }
        let frameCount = first.framesShape[1]
        for row in 0..<first.count {
            let source = pairs.frameSource[row]
            #expect(Array(plan.frameMask[(row * frameCount)..<((row + 1) * frameCount)])
                == Array(first.frameMask[(source * frameCount)..<((source + 1) * frameCount)]))
        }
        #expect(try #require(plan.frames).chosen.allSatisfy { plan.frameMask[$0] != 0 })

        // Data-parallel: rank 0 draws what one process draws, another rank its own choices for its share.
        let rankZero = PretrainingObjective(model: model, heads: heads, settings: settings, seed: 11, vocabulary: vocabulary, rank: 0)
        let rankOne = PretrainingObjective(model: model, heads: heads, settings: settings, seed: 11, vocabulary: vocabulary, rank: 1)
        #expect(rankZero.plan(for: first) == plan)
        #expect(rankOne.plan(for: first) != plan)
    }

    @Test("the MLM loss through the single-stream model and the tied head equals Hugging Face BertForMaskedLM's")
    func mlmMatchesHuggingFace() throws {
        let text = try BertConfig.load(contentsOf: Self.fixtures.appendingPathComponent("mlm-config.json"))
        let tensors = try SafeTensors.load(Self.fixtures.appendingPathComponent("mlm.safetensors"))
        let ids = try #require(tensors["input_ids"]), mask = try #require(tensors["attention_mask"])
        let config = FusionConfig(modelType: .singleStream, modalities: .text, classes: 3, featureSize: 8, maxFrames: 4,
                                  textPositions: ids.size(1), separatorTokenId: 3, textConfig: text)
        let store = ParameterStore(seed: 1)
        let model = try #require(try config.makeModel(store: store) as? SingleStreamClassifier)
        let heads = PretrainingHeads(store.root, model: model, mlm: true, mfm: false, itm: false, itc: false)
        let weights = tensors.filter { $0.key.hasPrefix("bert.") || $0.key.hasPrefix("cls.") }
        let report = try store.root.load(weights, fresh: { !$0.hasPrefix("bert.") && !$0.hasPrefix("cls.") }, source: "mlm.safetensors")
        #expect(report.taken.count == weights.count)

        let batch = ids.size(0)
        let input = VideoBatchInput(textIds: ids.to(.int64), textMask: mask.to(.int64), frames: Tensor.zeros([batch, 4, 8]),
                                    frameMask: Tensor.zeros([batch, 4], dtype: .int64))
        let encoding = model.encode(input, train: false)
        let labels = try #require(tensors["labels"]).to(.int32).toArray(Int32.self)
        let chosen = labels.indices.filter { labels[$0] != MaskedTokens.ignored }
        let loss = PretrainingLosses.mlm(text: encoding.text, chosen: chosen, labels: labels, head: try #require(heads.mlm)).item()
        let expected = try #require(tensors["loss"]).item()
        #expect(abs(loss - expected) <= Self.tolerance * max(1, abs(expected)), "MLM loss \(loss), Hugging Face \(expected)")
        #expect(heads.mlm!.decoderWeight === model.bert.embeddings.wordEmbeddings.weight,
                "the MLM decoder must be the word-embedding table itself")
    }

    @Test("the MFM (dot and cosine), ITM and ITC losses equal the PyTorch reference (UniBERT's MFM)")
    func taskLossesMatchPyTorch() throws {
        let tensors = try SafeTensors.load(Self.fixtures.appendingPathComponent("tasks.safetensors"))
        func tensor(_ key: String) throws -> Tensor { try #require(tensors[key], "fixture key \(key)") }
        let store = ParameterStore(seed: 1)
        let output = try tensor("frames_output")
        let mfm = Linear(store.root("mfm_head"), inputSize: output.size(2), outputSize: try tensor("frames_input").size(2))
        let itm = Linear(store.root("itm_head"), inputSize: output.size(2), outputSize: 1)
        let scale = store.root("itc_head").parameter("logit_scale", shape: [1], initializer: .zeros)
        try store.load(tensors.filter { $0.key.contains("_head.") }, strict: true, source: "tasks.safetensors")

        let chosenMask = try tensor("chosen").toArray(Int64.self)
        func mfmLoss(_ similarity: MFMSimilarity) throws -> Double {
            PretrainingLosses.mfm(
                frames: output, targets: try tensor("frames_input"), frameMask: try tensor("frame_mask").to(.int32).toArray(Int32.self),
                chosen: chosenMask.indices.filter { chosenMask[$0] != 0 }, head: mfm, similarity: similarity, temperature: 0.1).item()
        }
        let itmLoss = PretrainingLosses.itm(pooled: try tensor("pooled"),
                                            matches: try tensor("matches").toArray(Float.self).map { $0 == 1 }, head: itm).item()
        let rows = try tensor("text").size(0)
        let itcLoss = PretrainingLosses.itc(text: try tensor("text"), video: try tensor("video"), rows: Array(0..<rows),
                                            logitScale: scale).item()
        for (name, value) in [("mfm", try mfmLoss(.dot)), ("mfm_cosine", try mfmLoss(.cosine)), ("itm", itmLoss), ("itc", itcLoss)] {
            let expected = try tensor("\(name)_loss").item()
            #expect(abs(value - expected) <= Self.tolerance * max(1, abs(expected)), "\(name) loss \(value), PyTorch \(expected)")
        }
    }

    @Test("ITC is refused on the single-stream model, naming the key")
    func itcNeedsTwoTowers() throws {
        let config = try TrainingFixture.tinyConfig(["pretrain.itc_weight=1"])
        #expect { try config.pretrain.validate(for: config) } throws: { "\($0)".contains("pretrain.itc_weight") && "\($0)".contains("dual_stream") }
        let dual = try TrainingFixture.tinyConfig(["pretrain.itc_weight=1", "model.kind=dual_stream"])
        try dual.pretrain.validate(for: dual)
    }

    @Test("pretrain.mfm_similarity takes dot or cosine, and the cosine temperature must be positive")
    func mfmSimilarityChoices() throws {
        #expect { try RunConfig.resolve(overrides: ["pretrain.mfm_similarity=euclid"]) } throws: {
            "\($0)".contains("pretrain.mfm_similarity") && "\($0)".contains("dot, cosine")
        }
        let cold = try TrainingFixture.tinyConfig(["pretrain.mfm_similarity=cosine", "pretrain.mfm_temperature=0"])
        #expect { try cold.pretrain.validate(for: cold) } throws: { "\($0)".contains("pretrain.mfm_temperature") }
        let cosine = try TrainingFixture.tinyConfig(["pretrain.mfm_similarity=cosine"])
        try cosine.pretrain.validate(for: cosine)
        #expect(cosine.pretrain.mfmSimilarity == .cosine)
    }

    @Test("model.init rates follow the pretraining's start: fine-tuning rates from a BERT-started folder, from-scratch rates from a random one")
    func initFolderRatesFollowItsOrigin() throws {
        let folder = TrainingFixture.temporaryFolder("init-origin")
        defer { try? FileManager.default.removeItem(at: folder) }
        func initFolder(_ name: String, textEncoder: String?) throws -> String {
            let url = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            if let textEncoder {
                let pretraining = try RunConfig.resolve(overrides: ["model.text_encoder=\(textEncoder)"])
                try Data(try pretraining.jsonText().utf8).write(to: url.appendingPathComponent("run_config.json"))
            }
            return url.path
        }
        let scratch = try RunConfig.resolve(overrides: [])
        #expect(scratch.learningRates["text"] == 1e-3 && !scratch.textEncoderIsPretrained)
        for (name, textEncoder, pretrained) in [("from-bert", "/models/chinese-macbert-base", true), ("from-random", "", false),
                                                ("no-run-config", nil, true)] {
            let config = try RunConfig.resolve(overrides: ["model.init=\(try initFolder(name, textEncoder: textEncoder))"])
            #expect(config.textEncoderIsPretrained == pretrained, "\(name)")
            #expect(config.learningRates["text"] == (pretrained ? 5e-5 : 1e-3), "\(name)")
            #expect(config.learningRates["head"] == (pretrained ? 5e-4 : 2e-3), "\(name)")
        }
    }

    @Test("data.label_fraction keeps a seeded subset of the training videos")
    func labelFraction() {
        let positions = Array(0..<200)
        let tenth = LabelFraction.subset(positions, fraction: 0.1, seed: 4)
        #expect(tenth.count == 20)
        #expect(tenth == LabelFraction.subset(positions, fraction: 0.1, seed: 4))
        #expect(tenth != LabelFraction.subset(positions, fraction: 0.1, seed: 5))
        #expect(tenth != Array(0..<20), "the subset should be shuffled, not the first videos")
        #expect(LabelFraction.subset(positions, fraction: 1, seed: 4) == positions)
    }

    // MARK: Helpers

    static func demoLoader() throws -> DataLoader {
        let config = try TrainingFixture.tinyConfig()
        let tokenizer = try BertTokenizer(directory: try TrainingFixture.vocabularyFolder.path)
        let data = try TrainingFixture.demo
        let index = try VideoIndex(dataRoot: data, split: "unlabeled", tokenizer: tokenizer, budgets: config.budgets)
        let builder = try SampleBuilder(dataRoot: data, split: "unlabeled", index: index, maxFrames: config.data.maxFrames,
                                        frameSource: try config.frameSource(), mode: .train(seed: 11))
        return try DataLoader(builder: builder, settings: LoaderSettings(batchSize: 16, shuffle: true, seed: 11, workers: 0))
    }

    static func tinyModel(vocabularySize: Int?) throws -> (any FusionEncoder, PretrainingHeads, Vocabulary) {
        let config = try TrainingFixture.tinyConfig()
        let tokenizer = try BertTokenizer(directory: try TrainingFixture.vocabularyFolder.path)
        let fusion = try config.fusionConfig(classes: 3, vocabularySize: vocabularySize ?? tokenizer.vocabulary.count,
                                             separatorTokenId: Int(tokenizer.vocabulary.specialTokenIDs.separator))
        let store = ParameterStore(seed: 1)
        let model = try #require(try fusion.makeModel(store: store) as? any FusionEncoder)
        let heads = PretrainingHeads(store.root, model: model, mlm: true, mfm: true, itm: true, itc: false)
        return (model, heads, tokenizer.vocabulary)
    }
}
