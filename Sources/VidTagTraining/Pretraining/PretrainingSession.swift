import Foundation
import Torch
import VidTagData
import VidTagModels

/// Wires `vidtag pretrain` together: the splits of a data root read end to end (labels never read), the
/// fusion model with its pretraining heads, and the trainer's loop with `PretrainingObjective` as its loss.
/// The run folder is a model folder (config.json, model.safetensors, vocab.txt, …) whose weights hold the
/// encoder and the pretraining heads, not the untrained classifier; `vidtag train --set model.init=RUN`
/// fine-tunes it. Every input is checked before anything is written.
public struct PretrainingSession {
    public let config: RunConfig
    public let data: DataRoot
    public let run: RunFolder

    public init(config: RunConfig, data: DataRoot, run: RunFolder) {
        self.config = config
        self.data = data
        self.run = run
    }

    /// Receives what the run reports (nothing is printed by the library).
    public var onEvent: (TrainingEvent) -> Void = { _ in }
    /// Asked after every step; true stops the run after a checkpoint (SIGTERM, a preempted job).
    public var shouldStop: () -> Bool = { false }
    /// Test hook: stop as if killed after this many steps.
    public var stopAfterStep: Int?
    /// Data-parallel pretraining: this process's group, local rank and leader (nil: it trains alone).
    public var dataParallelRank: DataParallelRank?

    /// Whether `fit` ended before its schedule (asked to stop); the model is saved only at the end.
    public struct Outcome {
        public var state: TrainerState
        public var interrupted: Bool
    }

    public func pretrain() throws -> Outcome {
        try config.pretrain.validate(for: config)
        let (device, shard) = try TrainingSession.placement(config, rank: dataParallelRank)
        if !config.model.textEncoder.isEmpty { try TrainingSession.refuseModelFolderAsTextEncoder(config.model.textEncoder) }
        Runtime.threads = config.train.threads > 0 ? config.train.threads : ProcessInfo.processInfo.activeProcessorCount
        Runtime.manualSeed(UInt64(config.seed))

        // The taxonomy only sizes the (unsaved) classifier: no video's label is read.
        let labels = try LabelSpace(for: data)
        var helper = TrainingSession(config: config, data: data, run: run)
        helper.onEvent = onEvent
        let vocabulary = try helper.vocabularySource()
        let tokenizer = try vocabulary.tokenizer()
        let frameSource = try config.frameSource()
        var parts: [any SampleSource] = []
        for split in config.pretrain.splits {
            let index = try VideoIndex(dataRoot: data, split: split, tokenizer: tokenizer, budgets: config.budgets,
                                       labelSpace: nil, badRecords: config.data.badRecordPolicy)
            if index.annotationReport.recordsSkipped > 0 { onEvent(.annotationsSkipped(index.annotationReport)) }
            parts.append(try SampleBuilder(dataRoot: data, split: split, index: index, maxFrames: config.data.maxFrames,
                                           frameSource: frameSource, mode: .train(seed: UInt64(config.seed)),
                                           badRecords: config.data.badRecordPolicy))
        }
        let samples = try ConcatenatedSamples(parts)
        guard samples.count > 0 else {
            throw TrainingError.noTrainingData("pretrain.splits \(config.pretrain.splits.joined(separator: ",")) of \(data.url.path) hold no video")
        }
        let loader = try DataLoader(
            source: samples,
            settings: LoaderSettings(batchSize: config.train.batchSize / (shard?.count ?? 1), shuffle: true,
                                     seed: UInt64(config.seed), dropLast: samples.count > config.train.batchSize,
                                     workers: config.data.workers, queueCapacity: config.data.prefetchBatches, shard: shard))

        let pretrainedEncoder = try helper.pretrainedFrameEncoder()
        let fusion = try config.fusionConfig(
            classes: labels.level2Count, vocabularySize: tokenizer.vocabulary.count,
            separatorTokenId: Int(tokenizer.vocabulary.specialTokenIDs.separator),
            frameEncoder: pretrainedEncoder.map { ($0.spec, $0.outputSize) })
        let store = ParameterStore(device: device, seed: UInt64(config.seed))
        guard let model = try fusion.makeModel(store: store, frameEncoder: pretrainedEncoder?.config) as? any FusionEncoder else {
            throw ConfigError("model.kind=\(config.model.kind.rawValue) cannot be pretrained; use single_stream or dual_stream")
        }
        if !config.model.textEncoder.isEmpty { try helper.loadPretrainedText(into: model) }
        if let pretrainedEncoder, let encoder = model.frameEncoder {
            let report = try encoder.load(pretrainedEncoder.tensors, source: config.model.frameEncoder)
            onEvent(.pretrainedLoaded(part: "frame encoder", source: config.model.frameEncoder, report: report))
            if config.model.freezeFrameEncoder { store.freeze(prefix: FrameEncoderSpec.prefix) }
        }
        let settings = config.pretrain
        let heads = PretrainingHeads(store.root, model: model, mlm: settings.mlmWeight > 0, mfm: settings.mfmWeight > 0,
                                     itm: settings.itmWeight > 0, itc: settings.itcWeight > 0)
        let trainer = Trainer(config: config, run: run, model: model, labels: labels, device: device,
                              batchesPerEpoch: loader.batchesPerEpoch, objective: Objective())
        trainer.task = PretrainingObjective(model: model, heads: heads, settings: settings, seed: UInt64(config.seed),
                                            vocabulary: tokenizer.vocabulary, rank: dataParallelRank?.group.rank ?? 0)
        trainer.tricks = try helper.tricks(store: store)
        trainer.stopAfterStep = stopAfterStep
        trainer.onEvent = onEvent
        trainer.shouldStop = shouldStop
        try trainer.join(dataParallelRank)

        // Every input checked: the run folder and its description are written now.
        try FileManager.default.createDirectory(at: run.url, withIntermediateDirectories: true)
        try AtomicFile.write(Data(try config.jsonText().utf8), to: run.configURL)
        let vocabularyURL = try vocabulary.write(into: run.model)
        if pretrainedEncoder != nil { try helper.copyFrameEncoderDescription() }
        try run.model.saveDescription(config: fusion, vocabulary: vocabularyURL, labels: labels,
                                      data: config.modelDataSettings(featureSize: fusion.featureSize, fold: nil))
        onEvent(.started(TrainingStart(
            modelKind: fusion.modelType, modalities: fusion.modalities, parameters: store.parameterCount,
            trainVideos: samples.count, heldOutVideos: 0, fold: 0, device: "\(device)", totalSteps: trainer.state.totalSteps)))

        let state = try trainer.fit(loader: loader, evaluate: nil)
        guard !trainer.interrupted else { return Outcome(state: state, interrupted: true) }
        // The classifier was never trained: the folder keeps the encoder and the pretraining heads only.
        try trainer.withEvaluationWeights {
            try run.model.saveWeights(store.stateDict().filter { !Self.isClassifierKey($0.key) })
        }
        return Outcome(state: state, interrupted: false)
    }

    /// The classifier heads a fine-tuned model starts fresh (group `head` of the fusion models).
    static func isClassifierKey(_ key: String) -> Bool {
        key.hasPrefix("classifier.") || key.hasPrefix("video_classifier.")
    }
}
