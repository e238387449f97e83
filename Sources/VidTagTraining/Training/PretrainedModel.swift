import Foundation
import Torch
import VidTagModels

extension TrainingSession {
    /// The model folder of `model.init` (written by `vidtag pretrain`, or any vidtag model folder).
    var initFolder: ModelFolder { ModelFolder(URL(fileURLWithPath: config.model.initFrom)) }

    /// Loads `model.init` into `model` through the one strict loader: every parameter of the model must be
    /// in the folder with its shape, but the classifier heads, which start fresh; the folder's pretraining
    /// heads are left out; any other key is an error. Reports what it took, left and started fresh.
    func loadPretrainedModel(into model: VideoClassifier) throws {
        let folder = initFolder
        guard FileManager.default.fileExists(atPath: folder.configURL.path) else {
            throw ConfigError("model.init \(folder.url.path) is not a vidtag model folder: no config.json "
                + "(make one with `vidtag pretrain --out \(folder.url.path)`)")
        }
        let pretrained = try FusionConfig.load(contentsOf: folder.configURL)
        guard pretrained.modelType == config.model.kind else {
            throw ConfigError("model.init \(folder.url.path) holds a \(pretrained.modelType.rawValue) model but model.kind is "
                + "\(config.model.kind.rawValue): fine-tune it with --set model.kind=\(pretrained.modelType.rawValue)")
        }
        guard FileManager.default.fileExists(atPath: folder.weightsURL.path) else {
            throw ConfigError("model.init \(folder.url.path): no model.safetensors (the pretraining run has not finished)")
        }
        let report = try model.store.root.load(
            try SafeTensors.load(folder.weightsURL),
            mapping: { PretrainingHeads.isHeadKey($0) ? .ignored("pretraining head, not part of the classifier") : .parameter($0) },
            fresh: PretrainingSession.isClassifierKey, source: folder.weightsURL.path,
            hint: { _ in "model.init must be pretrained with this run's model shape (model.kind, layers, hidden, heads, "
                + "intermediate, max_positions, video_layers, fusion_layers; data.max_frames, feature_size); its own "
                + "vocab.txt is used" })
        onEvent(.pretrainedLoaded(part: "model", source: folder.url.path, report: report))
    }
}
