import Foundation
import Torch
import VidTagData
import VidTagModels

/// Runs a saved model over a split of a data root with the data settings it was trained with (the same
/// sample code as training's evaluation) — or several models that share those settings, in one pass.
public struct ModelRunner {
    /// The first (or only) model: its folder's settings, vocabulary and labels define the inputs.
    public var loaded: LoadedModel { models[0] }
    /// The models run on each batch; all take the same inputs (`DataRecipe`).
    public let models: [LoadedModel]
    public let device: Device
    public let workers: Int
    public let batchSize: Int

    public init(model folder: URL, device: Device, workers: Int = 2, batchSize: Int = 64) throws {
        try self.init(models: [try ModelFolder(folder).load(device: device)], device: device, workers: workers,
                      batchSize: batchSize)
    }

    /// - models: loaded models with one data recipe (`DataRecipe(of:)` equal), at least one.
    public init(models: [LoadedModel], device: Device, workers: Int = 2, batchSize: Int = 64) throws {
        guard let first = models.first else { throw ConfigError("a model runner needs at least one model") }
        let recipe = try DataRecipe(of: first.folder)
        for other in models.dropFirst() where try DataRecipe(of: other.folder) != recipe {
            throw ConfigError("\(other.folder.url.path) reads its videos differently from \(first.folder.url.path) "
                + "(text budgets, frames, frame source or vocabulary): it needs a runner of its own")
        }
        self.models = models
        self.device = device
        self.workers = workers
        self.batchSize = batchSize
    }

    /// Probabilities for the videos of `split` (the held-out fold of a run when `positions` says so), and the
    /// split's index (its `annotationReport` says which records were skipped).
    /// - dtype: bf16 / fp16 run the forward pass under autocast to that type; nil keeps fp32.
    /// - select: the positions to predict, given the split's index (all when nil).
    public func predict(data: DataRoot, split: String, select: ((VideoIndex) throws -> [Int])? = nil,
                        dtype: DType? = nil) throws -> (Predictions, VideoIndex) {
        let (each, index) = try predictEach(data: data, split: split, select: select, dtype: dtype)
        return (each[0], index)
    }

    /// Every model's probabilities for the videos of `split`, from one pass over the data, in `models` order.
    public func predictEach(data: DataRoot, split: String, select: ((VideoIndex) throws -> [Int])? = nil,
                            dtype: DType? = nil) throws -> ([Predictions], VideoIndex) {
        let tokenizer = try BertTokenizer(directory: loaded.folder.url.path)
        let index = try VideoIndex(dataRoot: data, split: split, tokenizer: tokenizer, budgets: loaded.data.budgets,
                                   labelSpace: loaded.labels, badRecords: .skip)
        let builder = try SampleBuilder(dataRoot: data, split: split, index: index, maxFrames: loaded.data.maxFrames,
                                        frameSource: try frameSource(), mode: .evaluate)
        let chosen = try select?(index)
        let loader = try DataLoader(builder: builder,
                                    settings: LoaderSettings(batchSize: batchSize, shuffle: false, workers: workers),
                                    positions: chosen)
        let predictions = try Predictor.predict(models: models.map(\.model), batches: loader.batches(epoch: 0),
                                                device: device, classes: loaded.labels.level2Count, autocast: dtype)
        return (predictions, index)
    }
}

/// How a model folder reads a video: its vocabulary, token budgets, frame count, frame source and (for raw
/// frames) its preprocessing. Models with equal recipes take identical inputs, so one loader serves them all
/// (a K-fold run's fold models: one pass over the data instead of K).
public struct DataRecipe: Equatable {
    public let settings: ModelDataSettings
    let vocabulary: Data
    let preprocessing: Data?

    public init(of folder: ModelFolder) throws {
        var settings = try JSONDecoder().decode(ModelDataSettings.self, from: Data(contentsOf: folder.dataSettingsURL))
        settings.heldOutFold = nil
        self.settings = settings
        vocabulary = try Data(contentsOf: folder.vocabularyURL)
        preprocessing = settings.frameSource == .frames
            ? try Data(contentsOf: folder.frameEncoderURL.appendingPathComponent(FrameEncoderFolder.preprocessorName)) : nil
    }
}

extension ModelRunner {
    /// Features, or raw frames prepared as the model's frame encoder wants them.
    func frameSource() throws -> FrameSource {
        guard loaded.data.frameSource == .frames else { return .features(dimension: loaded.data.featureSize) }
        let url = loaded.folder.frameEncoderURL.appendingPathComponent(FrameEncoderFolder.preprocessorName)
        return .pixels(try FramePreprocessing(encoder: try FrameEncoderPreprocessing.load(contentsOf: url),
                                              fallbackSize: ImageSize(square: 224)))
    }

    /// The fold this model held out of its run's `folds.json` (recorded in its data settings), as a selection.
    public func heldOutFold() throws -> (VideoIndex) throws -> [Int] {
        guard let fold = loaded.data.heldOutFold else {
            throw ConfigError("\(loaded.folder.url.path) trained on its whole split (no held-out fold): score it on "
                + "another split with --split and --truth")
        }
        let foldsURL = RunFolder(loaded.folder.url).splitURL
        return { index in
            let labelled = (0..<index.count).filter { index.label(at: $0) != nil }
            let folds = try FoldAssignment.read(from: foldsURL, expectedIds: labelled.map { index.ids[$0] })
            let heldOut = Set(folds.validationIds(fold: fold))
            return labelled.filter { heldOut.contains(index.ids[$0]) }
        }
    }
}
