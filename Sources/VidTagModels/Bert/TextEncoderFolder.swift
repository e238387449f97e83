import Foundation
import Torch

/// A problem with a text encoder folder: names the folder, what is wrong and what to do.
public struct TextEncoderFolderError: Error, CustomStringConvertible, Sendable {
    public let folder: String
    public let problem: String
    public let hint: String

    public var description: String { "\(folder): \(problem)\nhint: \(hint)" }
}

/// A text encoder on disk in Hugging Face's layout: a folder with `config.json` (BERT settings),
/// `model.safetensors` (weights, keys with the `bert.` prefix or none) and `vocab.txt` (WordPiece
/// vocabulary, read by VidTagData's tokenizer). `save_pretrained` folders of BertModel / BertForMaskedLM load
/// as they are; a folder with only a pickled `pytorch_model.bin` is converted once by
/// `vidtag convert-checkpoint FOLDER` (`PyTorchCheckpointFile`, which never runs the pickle).
public struct TextEncoderFolder: Sendable {
    public static let configName = "config.json"
    public static let weightsName = "model.safetensors"
    public static let vocabularyName = "vocab.txt"

    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var configURL: URL { url.appendingPathComponent(Self.configName) }
    public var weightsURL: URL { url.appendingPathComponent(Self.weightsName) }
    public var vocabularyURL: URL { url.appendingPathComponent(Self.vocabularyName) }

    /// Checks that the folder holds its three files.
    public func validate() throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw TextEncoderFolderError(
                folder: url.path, problem: "no such folder",
                hint: "pass a folder holding \(Self.configName), \(Self.weightsName) and \(Self.vocabularyName)")
        }
        let missing = [Self.configName, Self.weightsName, Self.vocabularyName].filter {
            !FileManager.default.fileExists(atPath: url.appendingPathComponent($0).path)
        }
        guard missing.isEmpty else {
            var hint = "a text encoder folder holds \(Self.configName), \(Self.weightsName) and \(Self.vocabularyName)"
            if missing.contains(Self.weightsName),
               FileManager.default.fileExists(atPath: url.appendingPathComponent("pytorch_model.bin").path) {
                hint += "; convert its pytorch_model.bin once with `vidtag convert-checkpoint \(url.path)`, "
                    + "which writes \(Self.weightsName) beside it without running the pickle"
            }
            throw TextEncoderFolderError(
                folder: url.path, problem: "missing \(missing.joined(separator: ", "))", hint: hint)
        }
    }

    /// The folder's `config.json`.
    public func config() throws -> BertConfig {
        try validate()
        return try BertConfig.load(contentsOf: configURL)
    }

    /// Builds the encoder under `path` and loads the folder's weights into it, strictly.
    /// - addPoolingLayer: nil adds the pooler exactly when the checkpoint has `pooler.*` keys.
    public func loadModel(_ path: ParameterPath, addPoolingLayer: Bool? = nil) throws
        -> (model: BertModel, report: CheckpointLoadReport)
    {
        let config = try config()
        let tensors = try SafeTensors.load(weightsURL)
        let hasPooler = tensors.keys.contains { $0.hasPrefix("pooler.") || $0.hasPrefix("bert.pooler.") }
        let model = BertModel(path, config: config, addPoolingLayer: addPoolingLayer ?? hasPooler)
        let report = try model.load(tensors, source: weightsURL.path)
        return (model, report)
    }

    /// Loads the folder's weights into an encoder built elsewhere (e.g. the `bert` of a fusion model), after
    /// checking that the folder's config.json describes the same architecture (dropout may differ).
    @discardableResult
    public func loadWeights(into model: BertModel) throws -> CheckpointLoadReport {
        let folderConfig = try config()
        var comparable = model.config
        comparable.hiddenDropoutProb = folderConfig.hiddenDropoutProb
        comparable.attentionProbsDropoutProb = folderConfig.attentionProbsDropoutProb
        comparable.initializerRange = folderConfig.initializerRange
        guard comparable == folderConfig else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let ours = try JSONSerialization.jsonObject(with: encoder.encode(comparable)) as? [String: Any] ?? [:]
            let theirs = try JSONSerialization.jsonObject(with: encoder.encode(folderConfig)) as? [String: Any] ?? [:]
            let differing = ours.keys.sorted().filter { "\(ours[$0]!)" != "\(theirs[$0] ?? "absent")" }
                .map { "\($0) (model \(ours[$0]!), folder \(theirs[$0] ?? "absent"))" }
            throw TextEncoderFolderError(
                folder: url.path, problem: "config.json describes another BERT: \(differing.joined(separator: ", "))",
                hint: "build the model from this folder's config.json (TextEncoderFolder.config())")
        }
        return try model.load(contentsOf: weightsURL)
    }

    /// Builds `BertForMaskedLM` under `path` and loads the folder's weights into it, strictly.
    public func loadMaskedLM(_ path: ParameterPath) throws -> (model: BertForMaskedLM, report: CheckpointLoadReport) {
        let config = try config()
        let model = BertForMaskedLM(path, config: config)
        let report = try model.load(contentsOf: weightsURL)
        return (model, report)
    }

    /// Writes `model` as a Hugging Face BertModel folder (keys without prefix) with a copy of `vocabulary`.
    @discardableResult
    public static func save(_ model: BertModel, vocabulary: URL, to url: URL) throws -> TextEncoderFolder {
        try write(config: model.config, tensors: model.checkpointTensors(), vocabulary: vocabulary, to: url)
    }

    /// Writes `model` as a Hugging Face BertForMaskedLM folder (`bert.*`, `cls.predictions.*`).
    @discardableResult
    public static func save(_ model: BertForMaskedLM, vocabulary: URL, to url: URL) throws -> TextEncoderFolder {
        try write(config: model.config, tensors: model.checkpointTensors(), vocabulary: vocabulary, to: url)
    }

    private static func write(config: BertConfig, tensors: [String: Tensor], vocabulary: URL, to url: URL) throws
        -> TextEncoderFolder
    {
        let folder = TextEncoderFolder(url)
        let files = FileManager.default
        guard files.fileExists(atPath: vocabulary.path) else {
            throw TextEncoderFolderError(folder: url.path, problem: "vocabulary \(vocabulary.path) does not exist",
                                         hint: "pass the vocab.txt the model was trained with")
        }
        try files.createDirectory(at: url, withIntermediateDirectories: true)
        try config.save(to: folder.configURL)
        try SafeTensors.save(tensors, metadata: ["format": "pt"], to: folder.weightsURL)
        if vocabulary.standardizedFileURL.path != folder.vocabularyURL.standardizedFileURL.path {
            try AtomicFile.write(try Data(contentsOf: vocabulary), to: folder.vocabularyURL)
        }
        return folder
    }
}
