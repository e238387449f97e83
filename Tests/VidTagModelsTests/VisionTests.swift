import Foundation
import Testing
import Torch
@testable import VidTagModels

/// Frame encoders (ViT, CLIP's vision tower, Swin) against Hugging Face transformers: small random-weight
/// models and their outputs on a fixed batch, written by scripts/fixtures/make_vision_fixtures.py into
/// Tests/Fixtures/vision/.
@Suite struct VisionTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures/vision")
    static let vitFolder = FrameEncoderFolder(fixtures.appendingPathComponent("vit"))
    static let clipFolder = FrameEncoderFolder(fixtures.appendingPathComponent("clip"))
    static let swinFolder = FrameEncoderFolder(fixtures.appendingPathComponent("swin"))
    /// Hugging Face fp32 vs vidtag fp32, max abs.
    static let tolerance = 1e-4
    /// bf16 autocast vs fp32: max abs difference relative to the largest fp32 magnitude.
    static let bf16RelativeTolerance = 5e-2

    static func expected() throws -> [String: Tensor] {
        try SafeTensors.load(fixtures.appendingPathComponent("expected.safetensors"))
    }

    static func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Double { (a - b).abs().max().item() }

    static func relativeDifference(_ a: Tensor, _ reference: Tensor) -> Double {
        maxAbsDifference(a.to(.float32), reference) / reference.abs().max().item()
    }

    static func temporaryFolder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-vision-\(UUID().uuidString)")
    }

    static func load<Encoder: FrameEncoder>(_ folder: FrameEncoderFolder, as type: Encoder.Type) throws
        -> (Encoder, CheckpointLoadReport)
    {
        let (encoder, report) = try folder.loadEncoder(ParameterStore().root)
        return (try #require(encoder as? Encoder), report)
    }

    // MARK: Parity with Hugging Face

    @Test func vitMatchesHuggingFace() throws {
        let expected = try Self.expected()
        let (vit, report) = try Self.load(Self.vitFolder, as: ViTModel.self)
        #expect(report.ignored.isEmpty && report.loaded == vit.path.store.count)
        #expect(vit.pooler != nil && vit.config.patchSize == ImageSize(square: 8))
        let (output, frames) = try Torch.catching {
            withNoGrad { (vit.forward(expected["pixels"]!, train: false), vit.encodeFrames(expected["pixels"]!, train: false)) }
        }
        #expect(output.lastHiddenState.shape == [2, 17, 32])
        #expect(Self.maxAbsDifference(output.lastHiddenState, expected["vit.last_hidden_state"]!) < Self.tolerance)
        #expect(Self.maxAbsDifference(try #require(output.poolerOutput), expected["vit.pooler_output"]!) < Self.tolerance)
        #expect(frames.shape == [2, vit.outputSize])
        #expect(Self.maxAbsDifference(frames, expected["vit.last_hidden_state"]!.select(dim: 1, index: 0)) < Self.tolerance)
    }

    @Test func vitInterpolatesPositionsForAnotherSize() throws {
        let expected = try Self.expected()
        let (vit, _) = try Self.load(Self.vitFolder, as: ViTModel.self)
        let output = try Torch.catching { withNoGrad { vit.forward(expected["pixels40"]!, train: false) } }
        #expect(output.lastHiddenState.shape == [1, 26, 32])
        #expect(Self.maxAbsDifference(output.lastHiddenState, expected["vit40.last_hidden_state"]!) < Self.tolerance)
        #expect(Self.maxAbsDifference(output.poolerOutput!, expected["vit40.pooler_output"]!) < Self.tolerance)
    }

    @Test func clipMatchesHuggingFace() throws {
        let expected = try Self.expected()
        let (clip, report) = try Self.load(Self.clipFolder, as: CLIPVisionModel.self)
        #expect(report.ignored.isEmpty)
        #expect(clip.visualProjection != nil && clip.outputSize == 24)
        #expect(clip.path.store.names.contains("vision_model.pre_layrnorm.weight"))
        let output = try Torch.catching { withNoGrad { clip.forward(expected["pixels"]!, train: false) } }
        #expect(Self.maxAbsDifference(output.lastHiddenState, expected["clip.last_hidden_state"]!) < Self.tolerance)
        #expect(Self.maxAbsDifference(output.poolerOutput, expected["clip.pooler_output"]!) < Self.tolerance)
        #expect(Self.maxAbsDifference(try #require(output.imageEmbeds), expected["clip.image_embeds"]!) < Self.tolerance)
        let frames = withNoGrad { clip.encodeFrames(expected["pixels"]!, train: false) }
        #expect(Self.maxAbsDifference(frames, expected["clip.image_embeds"]!) < Self.tolerance)
    }

    @Test func clipLoadsBareKeysWithoutProjectionAndIgnoresTheTextTower() throws {
        let expected = try Self.expected()
        var tensors: [String: Tensor] = [:]
        for (key, value) in try SafeTensors.load(Self.clipFolder.weightsURL) {
            tensors[FrameEncoderCheckpoint.stripping("vision_model.", key)] = value  // CLIPVisionModel in transformers 5
        }
        tensors["text_model.embeddings.token_embedding.weight"] = Tensor.zeros([10, 4])
        tensors["logit_scale"] = Tensor(scalar: Float(2.6592))
        let clip = CLIPVisionModel(ParameterStore().root, config: try #require(
            { if case .clip(let config) = try Self.clipFolder.config() { config } else { nil } }()))
        let report = try clip.load(tensors)
        #expect(report.ignored.keys.sorted() == ["logit_scale", "text_model.embeddings.token_embedding.weight",
                                                 "visual_projection.weight"])
        #expect(clip.outputSize == 32)
        let frames = withNoGrad { clip.encodeFrames(expected["pixels"]!, train: false) }
        #expect(Self.maxAbsDifference(frames, expected["clip.pooler_output"]!) < Self.tolerance)
    }

    @Test func swinMatchesHuggingFaceWithShiftedWindows() throws {
        let expected = try Self.expected()
        let (swin, report) = try Self.load(Self.swinFolder, as: SwinModel.self)
        #expect(report.ignored.isEmpty)
        // Stage 0 runs on an 8 x 8 grid with window 4: its second block is shifted by 2 and masked.
        #expect(swin.stages[0].blocks[1].shift == 2)
        let output = try Torch.catching { withNoGrad { swin.forward(expected["pixels"]!, train: false) } }
        #expect(output.grid == ImageSize(square: 4) && output.lastHiddenState.shape == [2, 16, 32])
        #expect(Self.maxAbsDifference(output.lastHiddenState, expected["swin.last_hidden_state"]!) < Self.tolerance)
        #expect(Self.maxAbsDifference(output.poolerOutput, expected["swin.pooler_output"]!) < Self.tolerance)
        #expect(swin.outputSize == 32)
    }

    @Test func swinPadsSizesThatAreNotMultiplesOfTheWindow() throws {
        let expected = try Self.expected()
        let (swin, _) = try Self.load(Self.swinFolder, as: SwinModel.self)
        let output = try Torch.catching { withNoGrad { swin.forward(expected["pixels_odd"]!, train: false) } }
        #expect(output.grid == ImageSize(height: 5, width: 4))
        #expect(Self.maxAbsDifference(output.lastHiddenState, expected["swin_odd.last_hidden_state"]!) < Self.tolerance)
        #expect(Self.maxAbsDifference(output.poolerOutput, expected["swin_odd.pooler_output"]!) < Self.tolerance)
    }

    @Test func swinShiftMaskSeparatesRegionsAsHuggingFace() {
        // 8 x 8 grid, window 4, shift 2: four windows; the top-left one holds one region, the bottom-right four.
        let mask = SwinWindows.shiftMask(height: 8, width: 8, window: 4, shift: 2, device: .cpu)
        #expect(mask.shape == [4, 16, 16])
        #expect(mask[0].abs().sum().item() == 0)
        let last = mask[3].toArray(Float.self)
        #expect(last[0 * 16 + 1] == 0 && last[0 * 16 + 2] == -100 && last[0 * 16 + 8] == -100 && last[0 * 16 + 15] == -100)
        #expect(SwinWindows.relativePositionIndex(window: 2, tableWindow: 2) == [4, 3, 1, 0, 5, 4, 2, 1, 7, 6, 4, 3, 8, 7, 5, 4])
    }

    @Test func swinGridSmallerThanTheWindowReadsTheSameTableOffsets() throws {
        // A 2 x 2 window inside a table made for 4 x 4 windows: each (query, key) pair reads the row the same
        // pair reads in the top-left corner of a full window.
        let small = SwinWindows.relativePositionIndex(window: 2, tableWindow: 4)
        let full = SwinWindows.relativePositionIndex(window: 4, tableWindow: 4)
        func corner(_ position: Int) -> Int { (position / 2) * 4 + position % 2 }
        for query in 0..<4 {
            for key in 0..<4 { #expect(small[query * 4 + key] == full[corner(query) * 16 + corner(key)]) }
        }
        // 16 px: stage 0 is one 4 x 4 window, stage 1 one 2 x 2 window (Hugging Face fails there).
        let (swin, _) = try Self.load(Self.swinFolder, as: SwinModel.self)
        let output = try Torch.catching {
            withNoGrad { swin.forward(Tensor.randn([2, 3, 16, 16], generator: Generator(seed: 4)), train: false) }
        }
        #expect(output.grid == ImageSize(square: 2) && output.poolerOutput.shape == [2, 32])
        #expect(output.poolerOutput.isFinite().all().item() == 1)
    }

    @Test(arguments: ["vit", "clip", "swin"])
    func bf16AutocastStaysCloseToFloat32(model: String) throws {
        let expected = try Self.expected()
        let folder = FrameEncoderFolder(Self.fixtures.appendingPathComponent(model))
        let (encoder, _) = try folder.loadEncoder(ParameterStore().root)
        let pixels = expected["pixels"]!
        let (full, half) = try Torch.catching {
            withNoGrad {
                (encoder.encodeFrames(pixels, train: false),
                 withAutocast(.cpu, dtype: .bfloat16) { encoder.encodeFrames(pixels, train: false) })
            }
        }
        #expect(half.shape == full.shape)
        let relative = Self.relativeDifference(half, full)
        #expect(relative > 0, "autocast did not change the arithmetic")
        #expect(relative < Self.bf16RelativeTolerance, "\(model): bf16 relative difference \(relative)")
    }

    @Test(arguments: ["vit", "clip", "swin"])
    func backwardReachesEveryParameter(model: String) throws {
        let folder = FrameEncoderFolder(Self.fixtures.appendingPathComponent(model))
        let store = ParameterStore()
        let (encoder, _) = try folder.loadEncoder(store.root)
        let pixels = try Self.expected()["pixels"]!
        try Torch.catching { encoder.encodeFrames(pixels, train: true).square().sum().backward() }
        // ViT's pooler (dense + tanh) is not part of the frame vector (the final LayerNorm'ed [CLS] token).
        for entry in store.trainable() where !entry.name.hasPrefix("pooler.") {
            let gradient = try #require(entry.tensor.grad, "\(model): no gradient for \(entry.name)")
            #expect(gradient.abs().sum().item() > 0, "\(model): zero gradient for \(entry.name)")
        }
        #expect(store.groups == ["visual"])
    }

    // MARK: Initialisation

    @Test func initialisesWithASeedInTheVisualGroup() {
        var vitConfig = ViTConfig()
        vitConfig.hiddenSize = 64
        vitConfig.numHiddenLayers = 2
        vitConfig.numAttentionHeads = 4
        vitConfig.intermediateSize = 128
        vitConfig.imageSize = ImageSize(square: 64)
        let store = ParameterStore(seed: 3)
        let vit = ViTModel(store.root, config: vitConfig)
        #expect(store.groups == ["visual"])
        #expect(abs(vit.layers[1].intermediate.weight.std().item() - 0.02) < 0.002)
        #expect(vit.layers[0].attention.query.bias!.abs().sum().item() == 0)
        #expect(vit.layernorm.weight.toArray(Float.self).allSatisfy { $0 == 1 })
        let again = ViTModel(ParameterStore(seed: 3).root, config: vitConfig)
        #expect(Self.maxAbsDifference(again.embeddings.positionEmbeddings, vit.embeddings.positionEmbeddings) == 0)

        var clipConfig = CLIPVisionConfig()
        clipConfig.hiddenSize = 64
        clipConfig.numHiddenLayers = 2
        clipConfig.numAttentionHeads = 4
        clipConfig.intermediateSize = 128
        clipConfig.imageSize = 64
        let clip = CLIPVisionModel(ParameterStore(seed: 3).root, config: clipConfig, withProjection: true)
        #expect(abs(clip.embeddings.classEmbedding.std().item() - 0.125) < 0.05)  // 64^-½
        #expect(abs(clip.layers[0].selfAttention.qProj.weight.std().item() - 0.0625) < 0.006)  // 64^-½ · 4^-½

        var swinConfig = SwinConfig()
        swinConfig.embedDim = 16
        swinConfig.depths = [2, 2]
        swinConfig.numHeads = [2, 4]
        let swinStore = ParameterStore(seed: 3)
        let swin = SwinModel(swinStore.root, config: swinConfig)
        #expect(swin.stages[0].blocks[1].attention.relativePositionBiasTable.shape == [169, 2])
        #expect(swinStore.names.contains("encoder.layers.0.downsample.reduction.weight"))
        #expect(!swinStore.names.contains { $0.contains("relative_position_index") })
        #expect(swin.outputSize == 32)
    }

    @Test func swinTinyHasHuggingFaceShapes() {
        let store = ParameterStore()
        let swin = SwinModel(store.root, config: SwinConfig())
        #expect(swin.outputSize == 768)
        #expect(store.parameterCount == 27_519_354)  // SwinModel(SwinConfig()) in transformers, pooler has no weights
    }

    // MARK: Loading errors

    @Test func missingKeyAndWrongShapeNameTheKeyAndBothShapes() throws {
        var tensors = try SafeTensors.load(Self.vitFolder.weightsURL)
        tensors["encoder.layer.1.output.dense.weight"] = nil
        tensors["layernorm.weight"] = Tensor.ones([31])
        tensors["extra.weight"] = Tensor.ones([2, 2])
        guard case .vit(let config) = try Self.vitFolder.config() else { Issue.record("not a ViT config"); return }
        let vit = ViTModel(ParameterStore().root, config: config, addPoolingLayer: true)
        let error = try #require(throws: CheckpointLoadError.self) { try vit.load(tensors, source: "weights.safetensors") }
        #expect(error.problems.count == 3)
        #expect(error.description.contains("missing key encoder.layer.1.output.dense.weight (model shape [32, 48])"))
        #expect(error.description.contains("key layernorm.weight: model expects shape [32], checkpoint has [31]"))
        #expect(error.description.contains("unexpected key extra.weight"))
        #expect(error.description.hasPrefix("cannot load weights.safetensors"))

        let noPooler = ViTModel(ParameterStore().root, config: config, addPoolingLayer: false)
        let poolerError = try #require(throws: CheckpointLoadError.self) {
            try noPooler.load(try SafeTensors.load(Self.vitFolder.weightsURL))
        }
        #expect(poolerError.description.contains("addPoolingLayer: true"))
    }

    @Test func swinChecksSavedRelativePositionIndices() throws {
        var tensors = try SafeTensors.load(Self.swinFolder.weightsURL)
        let key = "swin.encoder.layers.0.blocks.0.attention.self.relative_position_index"
        let index = SwinWindows.relativePositionIndex(window: 4, tableWindow: 4)
        var prefixed: [String: Tensor] = [:]
        for (name, value) in tensors { prefixed["swin." + name] = value }  // as SwinForImageClassification saves
        prefixed[key] = Tensor(index, shape: [16, 16])
        prefixed["classifier.weight"] = Tensor.zeros([10, 32])
        let (swin, _) = try Self.load(Self.swinFolder, as: SwinModel.self)
        let report = try swin.load(prefixed)
        #expect(report.ignored.keys.sorted() == ["classifier.weight", key])

        tensors[key] = Tensor(index.reversed(), shape: [16, 16])
        let error = try #require(throws: CheckpointLoadError.self) { try swin.load(tensors) }
        #expect(error.description.contains(key))
        tensors[key] = Tensor([Int64](repeating: 0, count: 49 * 49), shape: [49, 49])
        let shapeError = try #require(throws: CheckpointLoadError.self) { try swin.load(tensors) }
        #expect(shapeError.description.contains("shape [16, 16], checkpoint has [49, 49]"))
    }

    @Test func savedTensorsRoundTripThroughAFolder() throws {
        let (clip, _) = try Self.load(Self.clipFolder, as: CLIPVisionModel.self)
        let saved = clip.checkpointTensors()
        #expect(Set(saved.keys) == Set(try SafeTensors.load(Self.clipFolder.weightsURL).keys))
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in [FrameEncoderFolder.configName, FrameEncoderFolder.preprocessorName] {
            try FileManager.default.copyItem(at: Self.clipFolder.url.appendingPathComponent(name),
                                             to: folder.appendingPathComponent(name))
        }
        try SafeTensors.save(saved, to: folder.appendingPathComponent(FrameEncoderFolder.weightsName))
        let (reloaded, _) = try Self.load(FrameEncoderFolder(folder), as: CLIPVisionModel.self)
        let pixels = try Self.expected()["pixels"]!
        #expect(withNoGrad { Self.maxAbsDifference(reloaded.encodeFrames(pixels, train: false),
                                                   clip.encodeFrames(pixels, train: false)) } == 0)
    }

    // MARK: Configs and folders

    @Test func preprocessorConfigGivesSizeMeanAndStd() throws {
        let vit = try Self.vitFolder.preprocessing()
        #expect(vit.resize == .exact(ImageSize(square: 32)) && vit.centerCrop == nil)
        #expect(vit.inputSize == ImageSize(square: 32))
        #expect(vit.mean == [0.5, 0.5, 0.5] && vit.std == [0.5, 0.5, 0.5])
        #expect(abs(vit.rescaleFactor - 1.0 / 255) < 1e-12)

        let clip = try Self.clipFolder.preprocessing()
        #expect(clip.resize == .shortestEdge(36) && clip.centerCrop == ImageSize(square: 32))
        #expect(clip.mean == [0.48145466, 0.4578275, 0.40821073])
        #expect(clip.std == [0.26862954, 0.26130258, 0.27577711])

        let swin = try Self.swinFolder.preprocessing()
        #expect(swin.mean == [0.485, 0.456, 0.406] && swin.std == [0.229, 0.224, 0.225])

        let legacy = try FrameEncoderPreprocessing.parse([
            "size": 256, "crop_size": 224, "do_center_crop": true, "image_mean": [0.5, 0.5, 0.5], "image_std": [1, 1, 1],
        ])
        #expect(legacy.resize == .exact(ImageSize(square: 256)) && legacy.inputSize == ImageSize(square: 224))
        #expect(legacy.std == [1, 1, 1])
    }

    @Test func preprocessorConfigWithoutStatisticsNamesTheFileAndKey() throws {
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("preprocessor_config.json")
        try Data(#"{"size": {"height": 224, "width": 224}, "image_mean": [0.5, 0.5, 0.5]}"#.utf8).write(to: file)
        let error = try #require(throws: FrameEncoderConfigError.self) {
            try FrameEncoderPreprocessing.load(contentsOf: file)
        }
        #expect(error.description.hasPrefix(file.path))
        #expect(error.description.contains("missing key image_std"))
    }

    @Test func configsReadHuggingFaceKeysAndPickTheModelByType() throws {
        guard case .vit(let vit) = try Self.vitFolder.config(),
              case .clip(let clip) = try Self.clipFolder.config(),
              case .swin(let swin) = try Self.swinFolder.config()
        else { Issue.record("wrong model types"); return }
        #expect(vit.hiddenSize == 32 && vit.patchSize == ImageSize(square: 8) && vit.layerNormEps == 1e-12)
        #expect(clip.hiddenAct == .quickGelu && clip.projectionDim == 24 && clip.patchSize == 8)
        #expect(swin.depths == [2, 2] && swin.numHeads == [2, 4] && swin.windowSize == 4 && swin.mlpRatio == 2)

        // A whole CLIPModel's config: the vision_config and the top-level projection_dim.
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("config.json")
        try Data(#"{"model_type": "clip", "projection_dim": 768, "vision_config": {"patch_size": 14, "hidden_size": 1024, "num_attention_heads": 16, "num_hidden_layers": 24, "intermediate_size": 4096}}"#.utf8).write(to: file)
        guard case .clip(let large) = try FrameEncoderConfig.load(contentsOf: file) else {
            Issue.record("CLIPModel config not read as CLIP"); return
        }
        #expect(large.projectionDim == 768 && large.patchSize == 14 && large.imageSize == 224)

        try Data(#"{"model_type": "resnet"}"#.utf8).write(to: file)
        let error = try #require(throws: FrameEncoderConfigError.self) { try FrameEncoderConfig.load(contentsOf: file) }
        #expect(error.description.contains("model_type resnet") && error.description.contains("swin"))
        let round = try JSONDecoder().decode(SwinConfig.self, from: JSONEncoder().encode(swin))
        #expect(round == swin)
    }

    @Test func folderWithoutPreprocessorSaysHowToWriteIt() throws {
        let folder = Self.temporaryFolder()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: Self.vitFolder.configURL, to: folder.appendingPathComponent("config.json"))
        let error = try #require(throws: FrameEncoderFolderError.self) {
            try FrameEncoderFolder(folder).loadEncoder(ParameterStore().root)
        }
        #expect(error.problem.contains("preprocessor_config.json") && error.problem.contains("model.safetensors"))
        #expect(error.hint.contains("AutoImageProcessor"))
    }
}
