import Foundation
import Torch
import VidTagData
import VidTagModels

/// A trained model on disk: `config.json` (the fusion model and its text settings), `model.safetensors`,
/// `vocab.txt`, and `labels.json` (the level-2 ids in class order). A run folder is a model folder;
/// `vidtag evaluate` and `vidtag predict` take either.
public struct ModelFolder {
    public let url: URL
    public init(_ url: URL) { self.url = url }

    public var configURL: URL { url.appendingPathComponent("config.json") }
    public var weightsURL: URL { url.appendingPathComponent("model.safetensors") }
    public var vocabularyURL: URL { url.appendingPathComponent("vocab.txt") }
    public var labelsURL: URL { url.appendingPathComponent("labels.json") }
    public var dataSettingsURL: URL { url.appendingPathComponent("data_settings.json") }
    /// The frame encoder's config.json and preprocessor_config.json (end-to-end models only).
    public var frameEncoderURL: URL { url.appendingPathComponent(FrameEncoderSpec.prefix) }

    /// Saves everything but the weights (written by `saveWeights`).
    public func saveDescription(config: FusionConfig, vocabulary: URL, labels: LabelSpace, data: ModelDataSettings) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try config.save(to: configURL)
        if vocabulary.standardizedFileURL != vocabularyURL.standardizedFileURL {
            try AtomicFile.write(try Data(contentsOf: vocabulary), to: vocabularyURL)
        }
        try labels.write(to: labelsURL)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(data), to: dataSettingsURL)
    }

    public func saveWeights(_ store: ParameterStore) throws {
        try SafeTensors.save(store.stateDict(), metadata: ["format": "pt", "producer": "vidtag"], to: weightsURL)
    }

    /// Rebuilds the model on `device` and loads its weights strictly.
    public func load(device: Device) throws -> LoadedModel {
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw ConfigError("\(url.path) is not a vidtag model folder: no config.json (train one with `vidtag train --out \(url.path)`)")
        }
        let config = try FusionConfig.load(contentsOf: configURL)
        let labels = try LabelSpace(contentsOf: labelsURL)
        let data = try JSONDecoder().decode(ModelDataSettings.self, from: Data(contentsOf: dataSettingsURL))
        let store = ParameterStore(device: device, seed: 0)
        let encoderConfig = try config.frameEncoder.map { _ in
            try FrameEncoderConfig.load(contentsOf: frameEncoderURL.appendingPathComponent(FrameEncoderFolder.configName))
        }
        let model = try config.makeModel(store: store, frameEncoder: encoderConfig)
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw ConfigError("\(url.path): no model.safetensors yet (the run has not saved a model)")
        }
        try store.load(try SafeTensors.load(weightsURL), strict: true, source: weightsURL.path)
        return LoadedModel(folder: self, config: config, model: model, store: store, labels: labels, data: data)
    }
}

/// The data settings a model was trained with, which prediction must reuse (one code path for both).
public struct ModelDataSettings: Codable, Sendable, Equatable {
    public var budgets: TextBudgets
    public var maxFrames: Int
    public var frameSource: String
    public var featureSize: Int

    public init(budgets: TextBudgets, maxFrames: Int, frameSource: String, featureSize: Int) {
        self.budgets = budgets
        self.maxFrames = maxFrames
        self.frameSource = frameSource
        self.featureSize = featureSize
    }

    enum CodingKeys: String, CodingKey {
        case budgets, maxFrames = "max_frames", frameSource = "frame_source", featureSize = "feature_size"
    }
}

public struct LoadedModel {
    public let folder: ModelFolder
    public let config: FusionConfig
    public let model: VideoClassifier
    public let store: ParameterStore
    public let labels: LabelSpace
    public let data: ModelDataSettings
}
