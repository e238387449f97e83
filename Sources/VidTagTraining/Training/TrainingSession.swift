import Foundation
import Torch
import VidTagData
import VidTagModels

/// Everything `vidtag train` sets up from a data root and a config: the label space, the tokenizer, the
/// held-out fold, the loaders, the model and the trainer; then runs it.
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
    /// Test hook: stop as if killed after this many steps.
    public var stopAfterStep: Int?
    /// Data-parallel training: the group of processes this one trains with (train.batch_size is split
    /// between them; only rank 0 evaluates), and this process's rank on its machine (its GPU).
    public var processGroup: ProcessGroup?
    public var localRank = 0
    /// Extra configuration of the trainer before it runs (tricks hook in here).
    public var prepare: (Trainer) throws -> Void = { _ in }

    public func train() throws -> Outcome {
        var device = try Self.device(config.train.device)
        if processGroup != nil, case .cuda = device { device = try Self.device("cuda:\(localRank)") }
        let shard = processGroup.map { LoaderShard(rank: $0.rank, count: $0.worldSize) }
        if let shard, config.train.batchSize % shard.count != 0 {
            throw ConfigError("train.batch_size \(config.train.batchSize) is not divisible by the \(shard.count) processes")
        }
        if !config.model.textEncoder.isEmpty { try Self.refuseModelFolderAsTextEncoder(config.model.textEncoder) }
        Runtime.threads = config.train.threads > 0 ? config.train.threads : ProcessInfo.processInfo.activeProcessorCount
        Runtime.manualSeed(UInt64(config.seed))
        try FileManager.default.createDirectory(at: run.url, withIntermediateDirectories: true)
        try AtomicFile.write(Data(try config.jsonText().utf8), to: run.configURL)

        let labels = try Self.labelSpace(for: data)
        let vocabularyURL = try prepareVocabulary()
        let tokenizer = try BertTokenizer(directory: vocabularyURL.deletingLastPathComponent().path)
        let policy: BadRecordPolicy = config.data.badRecordPolicy == "stop" ? .stop : .skip
        let split = config.data.trainSplit
        let index = try VideoIndex(dataRoot: data, split: split, tokenizer: tokenizer, budgets: budgets,
                                   labelSpace: labels, badRecords: policy)
        let labelled = (0..<index.count).filter { index.label(at: $0) != nil }
        guard !labelled.isEmpty else {
            throw TrainingError.noTrainingData("annotations/\(split).json of \(data.url.path) has no labelled video")
        }
        if index.annotationReport.recordsSkipped > 0 { print("annotations: \(index.annotationReport)") }

        // Held-out fold, stratified by level-2 label, written to the run folder and reused on resume.
        let (trainPositions, heldOutPositions) = try heldOut(index: index, labelled: labelled, labels: labels)
        let frameSource = try self.frameSource()
        let trainBuilder = try SampleBuilder(dataRoot: data, split: split, index: index, maxFrames: config.data.maxFrames,
                                             frameSource: frameSource, mode: .train(seed: UInt64(config.seed)),
                                             badRecords: policy)
        let evalBuilder = try SampleBuilder(dataRoot: data, split: split, index: index, maxFrames: config.data.maxFrames,
                                            frameSource: frameSource, mode: .evaluate, badRecords: policy)
        let trainLoader = try DataLoader(
            builder: trainBuilder,
            settings: LoaderSettings(batchSize: config.train.batchSize / (shard?.count ?? 1), shuffle: true,
                                     seed: UInt64(config.seed), dropLast: trainPositions.count > config.train.batchSize,
                                     workers: config.data.workers, queueCapacity: config.data.prefetchBatches,
                                     shard: shard),
            positions: trainPositions)
        let evalLoader = try DataLoader(
            builder: evalBuilder,
            settings: LoaderSettings(batchSize: config.train.batchSize * 2, shuffle: false, workers: config.data.workers,
                                     queueCapacity: config.data.prefetchBatches),
            positions: heldOutPositions)

        // Model.
        let pretrainedEncoder = try pretrainedFrameEncoder()
        var fusion = try fusionConfig(classes: labels.level2Count, vocabularySize: tokenizer.vocabulary.count,
                                      separatorTokenId: Int(tokenizer.vocabulary.specialTokenIDs.separator))
        if let pretrainedEncoder {
            fusion.frameEncoder = pretrainedEncoder.spec
            fusion.featureSize = pretrainedEncoder.outputSize
        }
        let store = ParameterStore(device: device, seed: UInt64(config.seed))
        let model = try fusion.makeModel(store: store, frameEncoder: pretrainedEncoder?.config)
        if !config.model.textEncoder.isEmpty { try loadPretrainedText(into: model) }
        if let pretrainedEncoder, let encoder = model.frameEncoder {
            try encoder.load(pretrainedEncoder.tensors, source: config.model.frameEncoder)
            if config.model.freezeFrameEncoder { store.freeze(prefix: FrameEncoderSpec.prefix) }
            try copyFrameEncoderDescription()
        }
        try run.model.saveDescription(
            config: fusion, vocabulary: vocabularyURL, labels: labels,
            data: ModelDataSettings(budgets: budgets, maxFrames: config.data.maxFrames, frameSource: config.data.frameSource,
                                    featureSize: fusion.featureSize))
        print("model: \(fusion.modelType) (\(fusion.modalities.rawValue)), \(store.parameterCount) parameters; "
              + "training on \(trainPositions.count) videos, evaluating on \(heldOutPositions.count) (fold \(fold)) on \(device)")

        let trainer = Trainer(config: config, run: run, model: model, labels: labels, device: device,
                              batchesPerEpoch: trainLoader.batchesPerEpoch,
                              objective: try objective(index: index, positions: trainPositions, classes: labels.level2Count,
                                                       device: device))
        trainer.tricks = try tricks(store: store)
        trainer.stopAfterStep = stopAfterStep
        if let processGroup { trainer.dataParallel = DataParallel(group: processGroup, parameters: trainer.parameters) }
        try prepare(trainer)
        let evaluates = !heldOutPositions.isEmpty && (processGroup?.rank ?? 0) == 0
        let evaluate: (() throws -> (ChallengeScore, Predictions))? = !evaluates ? nil : {
            let predictions = try Predictor.predict(model: model, batches: evalLoader.batches(epoch: 0),
                                                    device: device, classes: labels.level2Count,
                                                    autocast: trainer.evaluationAutocast)
            return (try predictions.score(labelSpace: labels), predictions)
        }
        let state = try trainer.fit(loader: trainLoader, evaluate: evaluate)
        guard stopAfterStep == nil || state.step >= state.totalSteps, let evaluate else {
            return Outcome(state: state, score: nil, predictions: nil)
        }
        // The best weights' held-out predictions: out-of-fold predictions for ensembles and boost tuning.
        try store.load(try SafeTensors.load(run.model.weightsURL), strict: true, source: run.model.weightsURL.path)
        let (score, predictions) = try evaluate()
        try predictions.save(to: run.outOfFoldURL)
        return Outcome(state: state, score: score, predictions: predictions)
    }

    var budgets: TextBudgets {
        TextBudgets(title: config.data.titleTokens, asr: config.data.asrTokens, ocr: config.data.ocrTokens)
    }

    func frameSource() throws -> FrameSource {
        switch (config.data.frameSource, config.model.frameEncoder.isEmpty) {
        case ("features", true):
            return .features(dimension: config.data.featureSize)
        case ("frames", false):
            let folder = FrameEncoderFolder(URL(fileURLWithPath: config.model.frameEncoder))
            return .pixels(try FramePreprocessing(encoder: try folder.preprocessing(),
                                                  fallbackSize: ImageSize(square: 224)))
        case ("frames", true):
            throw ConfigError("data.frame_source=frames trains on raw JPEG frames, which needs a frame encoder: "
                + "--set model.frame_encoder=DIR (a ViT / CLIP / Swin folder), or use features (vidtag extract-features)")
        default:
            throw ConfigError("model.frame_encoder is set but data.frame_source is 'features': set data.frame_source=frames "
                + "to train the encoder end to end on zip_frames")
        }
    }

    /// The pretrained frame encoder (weights loaded once, outside the model) and how to rebuild it.
    func pretrainedFrameEncoder() throws
        -> (config: FrameEncoderConfig, spec: FrameEncoderSpec, tensors: [String: Tensor], outputSize: Int)?
    {
        guard !config.model.frameEncoder.isEmpty else { return nil }
        let folder = FrameEncoderFolder(URL(fileURLWithPath: config.model.frameEncoder))
        let scratch = ParameterStore(seed: 0)
        let (encoder, report) = try folder.loadEncoder(scratch.root)
        print("frame encoder: \(report)")
        let names = scratch.names
        let spec = FrameEncoderSpec(pooler: names.contains { $0.hasPrefix("pooler.") },
                                    projection: names.contains { $0.hasPrefix("visual_projection.") })
        return (try folder.config(), spec, encoder.checkpointTensors(), encoder.outputSize)
    }

    /// The built-in WeChat 2022 label space, or the data root's own `labels.json`.
    public static func labelSpace(for data: DataRoot) throws -> LabelSpace {
        let own = data.url.appendingPathComponent("labels.json")
        if FileManager.default.fileExists(atPath: own.path) { return try LabelSpace(contentsOf: own) }
        return LabelSpace.wechat2022
    }

    public static func device(_ name: String) throws -> Device {
        guard let device = Device(name: name) else {
            throw ConfigError("train.device '\(name)': expected cpu, cuda or cuda:N")
        }
        if case .cuda(let index) = device {
            guard Runtime.cudaAvailable, index < Runtime.cudaDeviceCount else {
                throw ConfigError("train.device \(name): CUDA is not available here (\(Runtime.cudaDeviceCount) devices); "
                    + "run `vidtag doctor`, or use --set train.device=cpu")
            }
        }
        return device
    }

    /// The vocabulary: the pretrained encoder's, a given one, or one made from the training texts.
    func prepareVocabulary() throws -> URL {
        let target = run.model.vocabularyURL
        if !config.model.textEncoder.isEmpty {
            return TextEncoderFolder(URL(fileURLWithPath: config.model.textEncoder)).vocabularyURL
        }
        if !config.model.vocabulary.isEmpty {
            var folder = URL(fileURLWithPath: config.model.vocabulary)
            if folder.lastPathComponent == "vocab.txt" { folder.deleteLastPathComponent() }
            return folder.appendingPathComponent("vocab.txt")
        }
        if FileManager.default.fileExists(atPath: target.path) { return target }
        var texts: [String] = []
        for split in data.annotatedSplits() where split != "test" && !split.hasPrefix("test_") {
            _ = try AnnotationReader(url: try data.annotationsURL(split: split), labelSpace: nil, policy: .skip).forEach {
                texts += [$0.title, $0.asr, $0.ocrText]
            }
        }
        let tokens = try CorpusVocabulary.tokens(from: texts)
        try CorpusVocabulary.write(tokens, to: target)
        print("vocabulary: \(tokens.count) tokens made from the training texts (\(target.path))")
        return target
    }

    func heldOut(index: VideoIndex, labelled: [Int], labels: LabelSpace) throws -> (train: [Int], heldOut: [Int]) {
        let fraction = config.data.validationFraction
        let count = foldCount > 0 ? foldCount : (fraction > 0 ? max(2, Int((1 / fraction).rounded())) : 0)
        guard count > 1 else { return (labelled, []) }
        let ids = labelled.map { index.ids[$0] }
        let folds: FoldAssignment
        let foldsURL = self.foldsURL ?? run.splitURL
        if FileManager.default.fileExists(atPath: foldsURL.path) {
            folds = try FoldAssignment.read(from: foldsURL, expectedIds: ids)
        } else {
            folds = try FoldAssignment.stratified(
                ids: ids, labels: labelled.map { labels.level2Ids[index.label(at: $0)!] }, foldCount: count,
                seed: UInt64(config.seed))
            try folds.write(to: foldsURL)
        }
        if foldsURL != run.splitURL { try folds.write(to: run.splitURL) }
        let heldOutIds = Set(folds.validationIds(fold: fold))
        return (labelled.filter { !heldOutIds.contains(index.ids[$0]) }, labelled.filter { heldOutIds.contains(index.ids[$0]) })
    }

    func fusionConfig(classes: Int, vocabularySize: Int, separatorTokenId: Int) throws -> FusionConfig {
        let settings = config.model
        var text: BertConfig
        if !settings.textEncoder.isEmpty {
            text = try TextEncoderFolder(URL(fileURLWithPath: settings.textEncoder)).config()
        } else {
            text = BertConfig()
            text.vocabSize = vocabularySize
            text.hiddenSize = settings.hidden
            text.numHiddenLayers = settings.layers
            text.numAttentionHeads = settings.heads
            text.intermediateSize = settings.intermediate
            text.maxPositionEmbeddings = settings.maxPositions
            text.hiddenDropoutProb = settings.dropout
            text.attentionProbsDropoutProb = settings.dropout
        }
        let positionsNeeded = budgets.maxSequenceLength + config.data.maxFrames + 1
        if settings.kind == "single_stream", positionsNeeded > text.maxPositionEmbeddings {
            throw ConfigError("the single-stream sequence needs \(positionsNeeded) positions (text \(budgets.maxSequenceLength) "
                + "+ \(config.data.maxFrames) frames + [SEP]) but the BERT has \(text.maxPositionEmbeddings): lower the "
                + "data.*_tokens budgets or data.max_frames")
        }
        guard let modalities = Modalities(rawValue: settings.modalities) else {
            throw ConfigError("model.modalities '\(settings.modalities)': expected both, text or frames")
        }
        return FusionConfig(
            modelType: settings.kind, modalities: modalities, classes: classes, featureSize: config.data.featureSize,
            maxFrames: config.data.maxFrames, textPositions: budgets.maxSequenceLength,
            separatorTokenId: separatorTokenId, pooling: settings.pooling, dropout: settings.dropout,
            headSamples: config.tricks.headSamples, videoHead: config.tricks.videoLossWeight > 0,
            nextvladClusters: settings.nextvladClusters, nextvladGroups: settings.nextvladGroups,
            nextvladExpansion: settings.nextvladExpansion, nextvladOutput: settings.nextvladOutput,
            fusionSize: settings.fusionSize, seReduction: settings.seReduction, textConfig: text)
    }

    /// The frame encoder's config.json and preprocessor_config.json in the model folder's `frame_encoder/`,
    /// so that the folder alone rebuilds the model and its frame pipeline.
    func copyFrameEncoderDescription() throws {
        let source = FrameEncoderFolder(URL(fileURLWithPath: config.model.frameEncoder))
        let target = run.url.appendingPathComponent(FrameEncoderSpec.prefix)
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
        default: bert = nil
        }
        guard let bert else { return }
        let report = try bert.load(try SafeTensors.load(folder.weightsURL), source: folder.weightsURL.path)
        print("text encoder: \(report)")
    }
}


/// K models on K stratified folds of the labelled split, each with its own seed (`seed + k`), in
/// `RUN/fold-k/`; their out-of-fold predictions together score the recipe and tune the small-class boost.
public struct KFoldTraining {
    public let config: RunConfig
    public let data: DataRoot
    public let run: RunFolder
    public let folds: Int

    public init(config: RunConfig, data: DataRoot, run: RunFolder, folds: Int) {
        self.config = config
        self.data = data
        self.run = run
        self.folds = folds
    }

    public func train() throws -> (score: ChallengeScore, outOfFold: Predictions) {
        guard folds >= 2 else { throw ConfigError("--folds \(folds): K-fold needs at least 2 folds") }
        try FileManager.default.createDirectory(at: run.url, withIntermediateDirectories: true)
        try AtomicFile.write(Data(try config.jsonText().utf8), to: run.configURL)
        var members: [Predictions] = []
        for fold in 0..<folds {
            var foldConfig = config
            foldConfig.seed = config.seed + fold
            print("== fold \(fold + 1) of \(folds) (seed \(foldConfig.seed)) ==")
            var session = TrainingSession(config: foldConfig, data: data, run: RunFolder(run.url.appendingPathComponent("fold-\(fold)")))
            session.fold = fold
            session.foldCount = folds
            session.foldsURL = run.splitURL
            guard let predictions = try session.train().predictions else {
                throw TrainingError.noTrainingData("fold \(fold) has no held-out videos")
            }
            members.append(predictions)
        }
        let outOfFold = Predictions(ids: members.flatMap(\.ids), probabilities: members.flatMap(\.probabilities),
                                    classes: members[0].classes, labels: members.flatMap(\.labels))
        try outOfFold.save(to: run.outOfFoldURL)
        let labels = try TrainingSession.labelSpace(for: data)
        let score = try outOfFold.score(labelSpace: labels)
        try KFoldManifest(members: (0..<folds).map { "fold-\($0)" }, outOfFoldScore: score.mean).save(in: run.url)
        return (score, outOfFold)
    }
}

/// `ensemble.json` of a K-fold run: its member model folders (relative) and the out-of-fold score.
public struct KFoldManifest: Codable, Sendable {
    public var members: [String]
    public var outOfFoldScore: Double

    enum CodingKeys: String, CodingKey { case members, outOfFoldScore = "out_of_fold_score" }

    public static let fileName = "ensemble.json"

    public func save(in folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: folder.appendingPathComponent(Self.fileName))
    }

    /// The member folders of `folder` when it is a K-fold run, else nil.
    public static func members(of folder: URL) throws -> [URL]? {
        let url = folder.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let manifest = try JSONDecoder().decode(KFoldManifest.self, from: Data(contentsOf: url))
        return manifest.members.map { folder.appendingPathComponent($0) }
    }
}
