import Foundation
import Torch
import VidTagData
import VidTagModels

/// A trained model on disk: `config.json` (the fusion model and its text settings), `model.safetensors`,
/// `vocab.txt`, `labels.json` (the level-2 ids in class order), `data_settings.json` (what its inputs were,
/// and which fold it held out) and, for end-to-end models, `frame_encoder/`. A run folder is a model folder;
/// `vidtag evaluate` and `vidtag predict` take either. The one owner of these file names.
public struct ModelFolder {
    public let url: URL
    public init(_ url: URL) { self.url = url }

    /// The files and folders that describe the model (everything but its weights).
    public var descriptionURLs: [URL] { [configURL, vocabularyURL, labelsURL, dataSettingsURL, frameEncoderURL] }

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
        try saveWeights(store.stateDict())
    }

    public func saveWeights(_ tensors: [String: Tensor], producer: String = "vidtag") throws {
        try SafeTensors.save(tensors, metadata: ["format": "pt", "producer": producer], to: weightsURL)
    }

    /// Copies the model's description (every file but the weights) into `target`, which becomes a model folder
    /// once weights are saved there. Files the model does not have (no `frame_encoder/` for feature models) are
    /// skipped.
    public func copyDescription(to target: ModelFolder) throws {
        let fileManager = FileManager.default
        try fileManager.createDirectory(at: target.url, withIntermediateDirectories: true)
        for source in descriptionURLs {
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: source.path, isDirectory: &isDirectory) else { continue }
            let destination = target.url.appendingPathComponent(source.lastPathComponent)
            if isDirectory.boolValue {
                try? fileManager.removeItem(at: destination)
                try fileManager.copyItem(at: source, to: destination)
            } else {
                try AtomicFile.write(try Data(contentsOf: source), to: destination)
            }
        }
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
    public var frameSource: FrameSourceKind
    public var featureSize: Int
    /// The fold of the run's `folds.json` this model did not train on (nil: the whole split was trained on).
    /// `vidtag evaluate` scores this fold.
    public var heldOutFold: Int?

    public init(budgets: TextBudgets, maxFrames: Int, frameSource: FrameSourceKind, featureSize: Int, heldOutFold: Int? = nil) {
        self.budgets = budgets
        self.maxFrames = maxFrames
        self.frameSource = frameSource
        self.featureSize = featureSize
        self.heldOutFold = heldOutFold
    }

    enum CodingKeys: String, CodingKey {
        case budgets, maxFrames = "max_frames", frameSource = "frame_source", featureSize = "feature_size"
        case heldOutFold = "held_out_fold"
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
