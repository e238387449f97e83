import Foundation
import Torch
import VidTagData
import VidTagModels

/// Wires `vidtag train` together: from a data root and a config to a trainer, then runs it. Every input is
/// read and checked before anything is written: a run folder exists only once training really starts.
public struct TrainingSession {
    public let config: RunConfig
    public let data: DataRoot
    public let run: RunFolder

    public init(config: RunConfig, data: DataRoot, run: RunFolder) {
        self.config = config
        self.data = data
        self.run = run
    }

    /// What a finished run reports.
    public struct Outcome {
        public var state: TrainerState
        public var score: ChallengeScore?
        public var predictions: Predictions?
    }

    /// Which fold of `folds.json` is held out (K-fold runs train one model per fold).
    public var fold = 0
    /// How many folds the labelled split is cut into (1 / validation fraction when 0).
    public var foldCount = 0
    /// A folds file shared by the runs of a K-fold training (default: the run's own `folds.json`).
    public var foldsURL: URL?
    /// Receives what the run reports (nothing is printed by the library).
    public var onEvent: (TrainingEvent) -> Void = { _ in }
    /// Asked after every step; true stops the run after a checkpoint (SIGTERM, a preempted job).
    public var shouldStop: () -> Bool = { false }
    /// Test hook: stop as if killed after this many steps.
    public var stopAfterStep: Int?
    /// Data-parallel training: this process's group, local rank and leader (nil: it trains alone).
    public var dataParallelRank: DataParallelRank?
    /// Extra configuration of the trainer before it runs (tricks hook in here).
    public var prepare: (Trainer) throws -> Void = { _ in }

    public func train() throws -> Outcome {
        // Inputs first: nothing below writes until the run folder is made.
        let (device, shard) = try Self.placement(config, rank: dataParallelRank)
        if !config.model.textEncoder.isEmpty { try Self.refuseModelFolderAsTextEncoder(config.model.textEncoder) }
        Runtime.threads = config.train.threads > 0 ? config.train.threads : ProcessInfo.processInfo.activeProcessorCount
        Runtime.manualSeed(UInt64(config.seed))

        let labels = try LabelSpace(for: data)
        let vocabulary = try vocabularySource()
        let tokenizer = try vocabulary.tokenizer()
        let policy = config.data.badRecordPolicy
        let split = config.data.trainSplit
        let index = try VideoIndex(dataRoot: data, split: split, tokenizer: tokenizer, budgets: config.budgets,
                                   labelSpace: labels, badRecords: policy)
        let labelled = (0..<index.count).filter { index.label(at: $0) != nil }
        guard !labelled.isEmpty else {
            throw TrainingError.noTrainingData("annotations/\(split).json of \(data.url.path) has no labelled video")
        }
        if index.annotationReport.recordsSkipped > 0 { onEvent(.annotationsSkipped(index.annotationReport)) }

        let folds = try heldOutFolds(index: index, labelled: labelled, labels: labels)
        let (foldPositions, heldOutPositions) = partition(labelled, index: index, folds: folds)
        let trainPositions = LabelFraction.subset(foldPositions, fraction: config.data.labelFraction, seed: UInt64(config.seed))
        let frameSource = try config.frameSource()
        let trainBuilder = try SampleBuilder(dataRoot: data, split: split, index: index, maxFrames: config.data.maxFrames,
                                             frameSource: frameSource, mode: .train(seed: UInt64(config.seed)),
                                             badRecords: policy)
        let evalBuilder = try SampleBuilder(dataRoot: data, split: split, index: index, maxFrames: config.data.maxFrames,
                                            frameSource: frameSource, mode: .evaluate, badRecords: policy)
        let pseudo = try PseudoLabelMix.prepare(config: config, data: data, index: index, heldOut: heldOutPositions, fold: fold,
                                                labels: labels, tokenizer: tokenizer, frameSource: frameSource)
        let trainedPositions = pseudo?.positions(training: trainPositions, trainingCount: index.count) ?? trainPositions
        let trainLoader = try DataLoader(
            source: try pseudo?.source(training: trainBuilder) ?? trainBuilder,
            settings: LoaderSettings(batchSize: config.train.batchSize / (shard?.count ?? 1), shuffle: true,
                                     seed: UInt64(config.seed), dropLast: trainedPositions.count > config.train.batchSize,
                                     workers: config.data.workers, queueCapacity: config.data.prefetchBatches,
                                     shard: shard),
            positions: trainedPositions)
        let evalLoader = try DataLoader(
            builder: evalBuilder,
            settings: LoaderSettings(batchSize: config.train.batchSize * 2, shuffle: false, workers: config.data.workers,
                                     queueCapacity: config.data.prefetchBatches, shard: shard),
            positions: heldOutPositions)

        let pretrainedEncoder = try pretrainedFrameEncoder()
        let fusion = try config.fusionConfig(
            classes: labels.level2Count, vocabularySize: tokenizer.vocabulary.count,
            separatorTokenId: Int(tokenizer.vocabulary.specialTokenIDs.separator),
            frameEncoder: pretrainedEncoder.map { ($0.spec, $0.outputSize) })
        let store = ParameterStore(device: device, seed: UInt64(config.seed))
        let model = try fusion.makeModel(store: store, frameEncoder: pretrainedEncoder?.config)
        if !config.model.textEncoder.isEmpty { try loadPretrainedText(into: model) }
        if let pretrainedEncoder, let encoder = model.frameEncoder {
            let report = try encoder.load(pretrainedEncoder.tensors, source: config.model.frameEncoder)
            onEvent(.pretrainedLoaded(part: "frame encoder", source: config.model.frameEncoder, report: report))
            if config.model.freezeFrameEncoder { store.freeze(prefix: FrameEncoderSpec.prefix) }
        }
        if !config.model.initFrom.isEmpty { try loadPretrainedModel(into: model) }
        let trainer = Trainer(config: config, run: run, model: model, labels: labels, device: device,
                              batchesPerEpoch: trainLoader.batchesPerEpoch,
                              objective: try objective(index: index, positions: trainPositions, classes: labels.level2Count,
                                                       device: device))
        trainer.tricks = try tricks(store: store)
        trainer.softTargets = pseudo?.loss
        trainer.stopAfterStep = stopAfterStep
        trainer.onEvent = onEvent
        trainer.shouldStop = shouldStop
        try trainer.join(dataParallelRank)
        try prepare(trainer)

        // Every input checked: the run folder and its description are written now.
        try FileManager.default.createDirectory(at: run.url, withIntermediateDirectories: true)
        try AtomicFile.write(Data(try config.jsonText().utf8), to: run.configURL)
        let vocabularyURL = try vocabulary.write(into: run.model)
        if let folds {
            if !FileManager.default.fileExists(atPath: run.splitURL.path) { try folds.write(to: run.splitURL) }
            if let foldsURL, !FileManager.default.fileExists(atPath: foldsURL.path) { try folds.write(to: foldsURL) }
        }
        if pretrainedEncoder != nil { try copyFrameEncoderDescription() }
        try run.model.saveDescription(
            config: fusion, vocabulary: vocabularyURL, labels: labels,
            data: config.modelDataSettings(featureSize: fusion.featureSize, fold: heldOutPositions.isEmpty ? nil : fold))
        onEvent(.started(TrainingStart(
            modelKind: fusion.modelType, modalities: fusion.modalities, parameters: store.parameterCount,
            trainVideos: trainPositions.count, heldOutVideos: heldOutPositions.count, fold: fold,
            device: "\(device)", totalSteps: trainer.state.totalSteps)))

        // Data-parallel: each rank predicts its share of the held-out videos and all gather every share.
        let evaluate: (() throws -> (ChallengeScore, Predictions))? = heldOutPositions.isEmpty ? nil : {
            var predictions = try Predictor.predict(model: model, batches: evalLoader.batches(epoch: 0),
                                                    device: device, classes: labels.level2Count,
                                                    autocast: trainer.evaluationAutocast)
            if let group = dataParallelRank?.group {
                predictions = try ShardedEvaluation.gather(predictions, heldOut: heldOutPositions, index: index,
                                                           group: group, device: device)
            }
            return (try predictions.score(labelSpace: labels), predictions)
        }
        let state = try trainer.fit(loader: trainLoader, evaluate: evaluate)
        guard !trainer.interrupted, let evaluate else { return Outcome(state: state, score: nil, predictions: nil) }
        // The best weights' held-out predictions: out-of-fold predictions for ensembles and boost tuning.
        try store.load(try SafeTensors.load(run.model.weightsURL), strict: true, source: run.model.weightsURL.path)
        let (score, predictions) = try evaluate()
        try predictions.save(to: run.outOfFoldURL)
        return Outcome(state: state, score: score, predictions: predictions)
    }

    // MARK: Inputs

    /// Where a process trains: `train.device`, or for a data-parallel rank on GPUs the GPU of its local rank;
    /// and a rank's share of each batch (train.batch_size must split evenly between the processes).
    static func placement(_ config: RunConfig, rank: DataParallelRank?) throws -> (Device, LoaderShard?) {
        var device = try Device(parsing: config.train.device, setting: "train.device")
        if let rank, case .cuda = device { device = try Device(parsing: "cuda:\(rank.localRank)", setting: "LOCAL_RANK") }
        let shard = rank.map { LoaderShard(rank: $0.group.rank, count: $0.group.worldSize) }
        if let shard, config.train.batchSize % shard.count != 0 {
            throw ConfigError("train.batch_size \(config.train.batchSize) is not divisible by the \(shard.count) processes")
        }
        return (device, shard)
    }

    /// Where the vocabulary comes from; a vocabulary made from the training texts is written only with the run.
    enum VocabularySource {
        case file(URL)
        case made(tokens: [String])

        func tokenizer() throws -> BertTokenizer {
            switch self {
            case .file(let url): try BertTokenizer(directory: url.deletingLastPathComponent().path)
            case .made(let tokens): try BertTokenizer(vocabulary: Vocabulary(tokens: tokens, source: "training texts"))
            }
        }

        /// The vocabulary file the model folder is described with.
        func write(into model: ModelFolder) throws -> URL {
            switch self {
            case .file(let url):
                return url
            case .made(let tokens):
                try CorpusVocabulary.write(tokens, to: model.vocabularyURL)
                return model.vocabularyURL
            }
        }
    }

    /// The vocabulary of `model.init`, the pretrained encoder's, a given one, the run's own (on resume), or one made from the
    /// training texts of the data root.
    func vocabularySource() throws -> VocabularySource {
        if !config.model.initFrom.isEmpty { return .file(initFolder.vocabularyURL) }
        if !config.model.textEncoder.isEmpty {
            return .file(TextEncoderFolder(URL(fileURLWithPath: config.model.textEncoder)).vocabularyURL)
        }
        if !config.model.vocabulary.isEmpty {
            var folder = URL(fileURLWithPath: config.model.vocabulary)
            if folder.lastPathComponent == "vocab.txt" { folder.deleteLastPathComponent() }
            return .file(folder.appendingPathComponent("vocab.txt"))
        }
        if FileManager.default.fileExists(atPath: run.model.vocabularyURL.path) { return .file(run.model.vocabularyURL) }
        let tokens = try CorpusVocabulary.tokens(fromTrainingTextsOf: data)
        onEvent(.vocabularyBuilt(tokens: tokens.count, url: run.model.vocabularyURL))
        return .made(tokens: tokens)
    }

    /// The folds of the labelled videos, stratified by level-2 label: read from the K-fold parent, rank 0's run
    /// (a data-parallel rank > 0: every rank must hold out the same videos, also when a folds.json was placed
    /// in the run folder before the start) or the run itself (resume), else made from `data.folds_seed`. Nil
    /// when nothing is held out.
    func heldOutFolds(index: VideoIndex, labelled: [Int], labels: LabelSpace) throws -> FoldAssignment? {
        let fraction = config.data.validationFraction
        let count = foldCount > 0 ? foldCount : (fraction > 0 ? max(2, Int((1 / fraction).rounded())) : 0)
        guard count > 1 else { return nil }
        let ids = labelled.map { index.ids[$0] }
        for url in [foldsURL, dataParallelRank?.leader?.splitURL, run.splitURL].compactMap({ $0 })
        where FileManager.default.fileExists(atPath: url.path) {
            return try FoldAssignment.read(from: url, expectedIds: ids)
        }
        return try FoldAssignment.stratified(
            ids: ids, labels: labelled.map { labels.level2Ids[index.label(at: $0)!] }, foldCount: count,
            seed: UInt64(config.data.foldsSeed))
    }

    func partition(_ labelled: [Int], index: VideoIndex, folds: FoldAssignment?) -> (train: [Int], heldOut: [Int]) {
        guard let folds else { return (labelled, []) }
        let heldOutIds = Set(folds.validationIds(fold: fold))
        return (labelled.filter { !heldOutIds.contains(index.ids[$0]) }, labelled.filter { heldOutIds.contains(index.ids[$0]) })
    }

    /// The pretrained frame encoder (weights loaded once, outside the model) and how to rebuild it.
    func pretrainedFrameEncoder() throws
        -> (config: FrameEncoderConfig, spec: FrameEncoderSpec, tensors: [String: Tensor], outputSize: Int)?
    {
        guard !config.model.frameEncoder.isEmpty else { return nil }
        let folder = FrameEncoderFolder(URL(fileURLWithPath: config.model.frameEncoder))
        let scratch = ParameterStore(seed: 0)
        let (encoder, _) = try folder.loadEncoder(scratch.root)
        let names = scratch.names
        let spec = FrameEncoderSpec(pooler: names.contains { $0.hasPrefix("pooler.") },
                                    projection: names.contains { $0.hasPrefix("visual_projection.") })
        return (try folder.config(), spec, encoder.checkpointTensors(), encoder.outputSize)
    }

    /// The frame encoder's config.json and preprocessor_config.json in the model folder's `frame_encoder/`,
    /// so that the folder alone rebuilds the model and its frame pipeline.
    func copyFrameEncoderDescription() throws {
        let source = FrameEncoderFolder(URL(fileURLWithPath: config.model.frameEncoder))
        let target = run.model.frameEncoderURL
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        for file in [source.configURL, source.preprocessorURL] {
            try AtomicFile.write(try Data(contentsOf: file), to: target.appendingPathComponent(file.lastPathComponent))
        }
    }

    /// The loss: label smoothing, class weights from the training labels, the video head's weight.
    func objective(index: VideoIndex, positions: [Int], classes: Int, device: Device) throws -> Objective {
        var counts = [Int](repeating: 0, count: classes)
        for position in positions { if let label = index.label(at: position) { counts[label] += 1 } }
        let weights = config.tricks.weighting.weights(counts: counts).map { Tensor($0, shape: [classes]).to(device, .float32) }
        return Objective(classWeights: weights, labelSmoothing: config.tricks.labelSmoothing,
                         videoLossWeight: config.tricks.videoLossWeight)
    }

    /// The trick units the config switches on.
    func tricks(store: ParameterStore) throws -> TrickUnits {
        let settings = config.tricks
        var units = TrickUnits()
        if settings.emaDecay > 0 { units.ema = ExponentialMovingAverage(store: store, decay: settings.emaDecay) }
        if settings.fgmEpsilon > 0 {
            units.fgm = FGM(target: try AdversarialTarget(store: store, keys: settings.adversarialKeys),
                            epsilon: settings.fgmEpsilon)
        }
        if settings.pgdSteps > 0 {
            units.pgd = PGD(target: try AdversarialTarget(store: store, keys: settings.adversarialKeys),
                            epsilon: settings.pgdEpsilon, alpha: settings.pgdAlpha, steps: settings.pgdSteps)
        }
        if settings.rdropAlpha > 0 { units.rdrop = RDrop(alpha: settings.rdropAlpha) }
        return units
    }

    /// A vidtag model folder also holds config.json, model.safetensors and vocab.txt: name the mix-up
    /// rather than fail on every key.
    static func refuseModelFolderAsTextEncoder(_ path: String) throws {
        let configURL = TextEncoderFolder(URL(fileURLWithPath: path)).configURL
        guard let data = try? Data(contentsOf: configURL),
              let modelType = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["model_type"] as? String,
              FusionConfig.modelTypes.contains(modelType) else { return }
        throw ConfigError("model.text_encoder \(path) is a vidtag model folder (model_type '\(modelType)'), not a BERT; "
            + "the text encoder is a Hugging Face BERT folder (model_type 'bert'); a trained vidtag model is used by "
            + "`vidtag evaluate` / `vidtag predict`")
    }

    func loadPretrainedText(into model: VideoClassifier) throws {
        let folder = TextEncoderFolder(URL(fileURLWithPath: config.model.textEncoder))
        let bert: BertModel?
        switch model {
        case let single as SingleStreamClassifier: bert = single.bert
        case let baseline as BaselineClassifier: bert = baseline.bert
        case let dual as DualStreamClassifier: bert = dual.bert
        default: bert = nil
        }
        guard let bert else { return }
        let report = try bert.load(try SafeTensors.load(folder.weightsURL), source: folder.weightsURL.path)
        onEvent(.pretrainedLoaded(part: "text encoder", source: folder.url.path, report: report))
    }
}
