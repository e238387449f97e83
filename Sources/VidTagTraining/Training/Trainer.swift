import Foundation
import Torch
import VidTagData
import VidTagModels

/// Why a run stopped early.
public enum TrainingError: Error, CustomStringConvertible {
    case nonFiniteLoss(step: Int, loss: Double)
    case noTrainingData(String)

    public var description: String {
        switch self {
        case .nonFiniteLoss(let step, let loss):
            return "the loss became \(loss) at step \(step): training stopped (lower the learning rate, enable "
                + "clipping with train.clip_norm, or use bf16 rather than fp16); the last good checkpoint is kept"
        case .noTrainingData(let detail):
            return "no training data: \(detail)"
        }
    }
}

/// Runs the optimisation: the training step, periodic evaluation with the challenge metric, the best
/// model and atomic checkpoints, exact resume, a metrics log, progress and the curve plot.
public final class Trainer {
    public let config: RunConfig
    public let run: RunFolder
    public let model: VideoClassifier
    public let store: ParameterStore
    public let device: Device
    public let labels: LabelSpace
    public let optimizer: AdamW
    public let schedule: LearningRateSchedule
    public var objective: Objective
    /// The tricks in use (each nil when off).
    public var tricks = TrickUnits()
    public private(set) var state = TrainerState()
    let scaler: GradScaler?
    let autocastType: DType?
    /// The autocast dtype evaluation runs under (the training precision).
    public var evaluationAutocast: DType? { autocastType }
    let parameters: [Tensor]
    /// Called after each optimizer step (the step count already advanced).
    public var afterStep: [(Trainer) -> Void] = []
    /// Test hook: stop (as if killed) once this many steps are done, after any checkpoint of that step.
    public var stopAfterStep: Int?
    /// Data-parallel training: parameters come from rank 0 at the start, gradients are averaged over the
    /// ranks after the backward (and adversarial) passes of each step.
    public var dataParallel: DataParallel?

    public init(config: RunConfig, run: RunFolder, model: VideoClassifier, labels: LabelSpace, device: Device,
                batchesPerEpoch: Int, objective: Objective) {
        self.config = config
        self.run = run
        self.model = model
        self.store = model.store
        self.device = device
        self.labels = labels
        self.objective = objective
        let train = config.train
        let groups = GroupLearningRates(
            rates: config.learningRates,
            weightDecay: train.weightDecay, layerDecay: config.tricks.layerDecay)
        let bertLayers = model.store.names.compactMap { GroupLearningRates.bertDepth($0) }.max().map { $0 + 1 } ?? 0
        optimizer = AdamW(groups: groups.optimizerGroups(for: model.store, bertLayers: bertLayers))
        parameters = optimizer.parameters
        let stepsPerEpoch = max(1, batchesPerEpoch / train.gradientAccumulation)
        let total = train.maxSteps > 0 ? train.maxSteps : stepsPerEpoch * train.epochs
        schedule = LearningRateSchedule(
            warmupSteps: Int((Double(total) * train.warmupRatio).rounded()), totalSteps: total,
            decay: LearningRateSchedule.Decay(rawValue: train.schedule) ?? .linear)
        state.totalSteps = total
        switch train.precision {
        case "bf16": autocastType = .bfloat16
        case "fp16": autocastType = .float16
        default: autocastType = nil
        }
        scaler = train.precision == "fp16" ? GradScaler() : nil
    }

    // MARK: The training step

    /// One optimizer step over `micro` batches (gradient accumulation): forward → loss → backward →
    /// adversarial pass → (unscale, skip on Inf) → clip → step → averages → schedule. Returns the mean loss.
    public func step(_ micro: [Batch]) throws -> Double {
        var total = 0.0
        for batch in micro {
            let input = batch.input(on: device)
            let labels = batch.labelTensor(on: device)
            let share = 1 / Double(micro.count)
            let loss = forwardLoss(input, labels) * share
            backward(loss)
            total += loss.item()
            if let fgm = tricks.fgm {
                fgm.withPerturbation { backward(forwardLoss(input, labels) * share) }
            } else if let pgd = tricks.pgd {
                pgd.withPerturbations(parameters: parameters) { backward(forwardLoss(input, labels) * share) }
            }
        }
        try dataParallel?.averageGradients()
        guard total.isFinite else { throw TrainingError.nonFiniteLoss(step: state.step + 1, loss: total) }
        if let scaler, !scaler.unscaleAndCheck(parameters) {
            optimizer.zeroGrad()  // an fp16 overflow: skip the step, the scaler backed off
        } else {
            if config.train.clipNorm > 0 { clipGradNorm(parameters, maxNorm: config.train.clipNorm) }
            optimizer.step(learningRateScale: schedule.multiplier(at: state.step))
            optimizer.zeroGrad()
            tricks.ema?.update()
        }
        state.step += 1
        for hook in afterStep { hook(self) }
        return total
    }

    /// The training loss of one batch: one forward pass, or two under R-Drop.
    func forwardLoss(_ input: VideoBatchInput, _ labels: Tensor) -> Tensor {
        withAutocast(device, dtype: autocastType ?? .bfloat16, enabled: autocastType != nil) {
            let first = model.forward(input, train: true)
            guard let rdrop = tricks.rdrop else { return objective.loss(first, labels: labels) }
            let second = model.forward(input, train: true)
            return rdrop.loss(task1: objective.loss(first, labels: labels), task2: objective.loss(second, labels: labels),
                              logits1: first.logits, logits2: second.logits)
        }
    }

    func backward(_ loss: Tensor) {
        (scaler?.scaled(loss) ?? loss).backward()
    }

    /// Runs `body` with the weights that are evaluated and saved: the EMA's when it is on.
    public func withEvaluationWeights<R>(_ body: () throws -> R) rethrows -> R {
        if let ema = tricks.ema { return try ema.withAveragedWeights(body) }
        return try body()
    }

    // MARK: The loop

    /// Trains to the end of the schedule, resuming from the run's checkpoint when there is one.
    /// - evaluate: scores the current weights on held-out data (nil: no evaluation; the last model is kept).
    public func fit(loader: DataLoader, evaluate: (() throws -> (ChallengeScore, Predictions))?) throws -> TrainerState {
        if let resumed = try resumeIfPossible() {
            print("resuming \(run.url.path) at step \(resumed.step) (epoch \(resumed.epoch + 1), batch \(resumed.batchInEpoch))")
            try MetricsLog.truncate(run.metricsURL, afterStep: resumed.step)
        }
        try dataParallel?.broadcastFromRankZero(store.all.map(\.tensor))
        // Opened after the truncation, which replaces the file: a handle opened before would write to the old one.
        let log = try MetricsLog(url: run.metricsURL)
        guard loader.batchesPerEpoch > 0 else { throw TrainingError.noTrainingData("the training split has no batches") }
        let accumulation = config.train.gradientAccumulation
        let evalEvery = config.train.evalEvery
        let progress = ProgressReporter(total: state.totalSteps, startStep: state.step, plainEvery: config.train.logEvery)
        let started = Date()
        var samplesSinceStart = 0
        var runningLoss: Double?
        var dataWait = 0.0

        while state.step < state.totalSteps {
            var micro: [Batch] = []
            let stream = loader.batches(from: LoaderPosition(epoch: state.epoch, batch: state.batchInEpoch))
            defer { stream.close() }
            var waitStarted = Date()
            while let batch = try stream.next() {
                dataWait += Date().timeIntervalSince(waitStarted)
                defer { waitStarted = Date() }
                micro.append(batch)
                guard micro.count == accumulation else { continue }
                let loss = try step(micro)
                state.batchInEpoch += micro.count
                samplesSinceStart += micro.reduce(0) { $0 + $1.count } * (dataParallel?.group.worldSize ?? 1)
                micro = []
                runningLoss = runningLoss.map { 0.9 * $0 + 0.1 * loss } ?? loss
                let rate = Double(samplesSinceStart) / max(Date().timeIntervalSince(started), 1e-9)
                let learningRate = config.learningRates["text"]! * schedule.multiplier(at: state.step - 1)
                try log.append(MetricsRecord(kind: "train", step: state.step, epoch: state.epoch,
                                             values: ["loss": loss, "lr": learningRate, "samples_per_second": rate,
                                                      "data_wait_fraction": dataWait / max(Date().timeIntervalSince(started), 1e-9)]))
                progress.update(step: state.step, epoch: state.epoch, loss: runningLoss!, samplesPerSecond: rate,
                                learningRate: learningRate)
                let lastStep = state.step >= state.totalSteps
                if let evaluate, evalEvery > 0, state.step % evalEvery == 0 || lastStep {
                    progress.interrupt()
                    try evaluateAndKeepBest(evaluate, log: log)
                }
                if evalEvery > 0 && (state.step % evalEvery == 0 || lastStep) || stopAfterStep == state.step {
                    try saveCheckpoint()
                }
                if stopAfterStep == state.step { return state }
                if lastStep { break }
            }
            // End of an epoch (or of the schedule, mid-epoch).
            if state.step < state.totalSteps || state.batchInEpoch >= loader.batchesPerEpoch {
                state.epoch += 1
                state.batchInEpoch = 0
            }
            if stopAfterStep == state.step { return state }
            if let evaluate, evalEvery == 0 {
                progress.interrupt()
                try evaluateAndKeepBest(evaluate, log: log)
            }
            try saveCheckpoint()
        }
        progress.interrupt()
        if evaluate == nil { try withEvaluationWeights { try run.model.saveWeights(store) } }
        try writePlot()
        return state
    }

    func evaluateAndKeepBest(_ evaluate: () throws -> (ChallengeScore, Predictions), log: MetricsLog) throws {
        try withEvaluationWeights {
            let (score, _) = try evaluate()
            try log.append(MetricsRecord(kind: "eval", step: state.step, epoch: state.epoch, values: [
                "score": score.mean, "level1_micro_f1": score.level1MicroF1, "level1_macro_f1": score.level1MacroF1,
                "level2_micro_f1": score.level2MicroF1, "level2_macro_f1": score.level2MacroF1,
            ]))
            let better = score.mean > state.bestScore
            print(String(format: "eval at step %d: score %.4f (l1 micro %.4f macro %.4f, l2 micro %.4f macro %.4f)%@",
                         state.step, score.mean, score.level1MicroF1, score.level1MacroF1, score.level2MicroF1,
                         score.level2MacroF1, better ? "  ← best, saved" : ""))
            if better {
                state.bestScore = score.mean
                state.bestStep = state.step
                try run.model.saveWeights(store)
                try AtomicFile.write(Data(score.level2.table().utf8), to: run.url.appendingPathComponent("best_report.txt"))
            }
            if config.tricks.keepSnapshots > 0 {
                try SnapshotSet(folder: run.snapshotsURL).add(store: store, step: state.step, score: score.mean,
                                                            keep: config.tricks.keepSnapshots)
            }
        }
        try writePlot()
    }

    // MARK: Checkpoints

    public func saveCheckpoint() throws {
        state.scaler = scaler?.state ?? [:]
        let optimizerState = optimizer.stateDict()
        var rng = ["default_cpu": Generator.defaultState]
        rng["optimizer_step"] = Tensor([Int64(optimizerState.step)], shape: [1])
        try Checkpoint(model: store.stateDict(), optimizer: optimizerState.tensors, rng: rng, state: state,
                       extras: tricks.ema?.stateDict() ?? [:])
            .write(to: run.checkpointURL)
    }

    func resumeIfPossible() throws -> TrainerState? {
        guard let folder = Checkpoint.latest(at: run.checkpointURL) else { return nil }
        let checkpoint = try Checkpoint.read(from: folder)
        try store.load(checkpoint.model, strict: true, source: folder.appendingPathComponent("model.safetensors").path)
        let step = checkpoint.rng["optimizer_step"].map { $0.intItem() } ?? checkpoint.state.step
        try optimizer.load(tensors: checkpoint.optimizer, step: step)
        if let rng = checkpoint.rng["default_cpu"] { Generator.restoreDefault(rng) }
        if let ema = tricks.ema { try ema.load(checkpoint.extras) }
        let planned = state.totalSteps
        state = checkpoint.state
        state.totalSteps = planned
        scaler?.restore(state.scaler)
        return state
    }

    func writePlot() throws {
        let records = (try? MetricsLog.read(run.metricsURL)) ?? []
        let svg = CurvePlot.svg(records: records, title: "vidtag — \(run.url.lastPathComponent) (\(config.model.kind))")
        try AtomicFile.write(Data(svg.utf8), to: run.plotURL)
    }
}

/// The files of a run folder (which is also its model folder).
public struct RunFolder {
    public let url: URL
    public init(_ url: URL) { self.url = url }
    public var model: ModelFolder { ModelFolder(url) }
    public var configURL: URL { url.appendingPathComponent("run_config.json") }
    public var checkpointURL: URL { url.appendingPathComponent("checkpoint") }
    public var metricsURL: URL { url.appendingPathComponent("metrics.jsonl") }
    public var plotURL: URL { url.appendingPathComponent("curves.svg") }
    public var splitURL: URL { url.appendingPathComponent("folds.json") }
    public var snapshotsURL: URL { url.appendingPathComponent("snapshots") }
    /// The best model's predictions of the held-out fold.
    public var outOfFoldURL: URL { url.appendingPathComponent("oof.safetensors") }

    /// Whether a run already lives here.
    public var holdsRun: Bool {
        FileManager.default.fileExists(atPath: configURL.path) || FileManager.default.fileExists(atPath: metricsURL.path)
    }
}

/// The tricks a trainer applies; nil when off.
public struct TrickUnits {
    public var ema: ExponentialMovingAverage?
    public var fgm: FGM?
    public var pgd: PGD?
    public var rdrop: RDrop?

    public init(ema: ExponentialMovingAverage? = nil, fgm: FGM? = nil, pgd: PGD? = nil, rdrop: RDrop? = nil) {
        self.ema = ema
        self.fgm = fgm
        self.pgd = pgd
        self.rdrop = rdrop
    }
}
