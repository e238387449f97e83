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
    /// The loss optimised instead of the classification objective (pretraining); nil for classification.
    public var task: (any TrainingTask)?
    /// The named parts of the last step's loss (mean over its micro-batches), left on the device.
    var lastLossParts: [String: Tensor] = [:]
    /// The tricks in use (each nil when off).
    public var tricks = TrickUnits()
    /// The loss over soft targets when the run trains on pseudo-labels or distils (nil: the objective alone).
    public var softTargets: SoftTargetLoss?
    public private(set) var state = TrainerState()
    let scaler: GradScaler?
    let autocastType: DType?
    /// The autocast dtype evaluation runs under (the training precision).
    public var evaluationAutocast: DType? { autocastType }
    let parameters: [Tensor]
    /// The text group's base rate, logged with each step's schedule.
    let textLearningRate: Double
    /// Called after each optimizer step (the step count already advanced).
    public var afterStep: [(Trainer) -> Void] = []
    /// Receives what the run reports.
    public var onEvent: (TrainingEvent) -> Void = { _ in }
    /// Asked after every step; true ends the run after a checkpoint, as a preempted job must.
    public var shouldStop: () -> Bool = { false }
    /// Test hook: stop (as if killed) once this many steps are done, after any checkpoint of that step.
    public var stopAfterStep: Int?
    /// Whether `fit` returned before its schedule ended without early stopping (asked to stop, or the test hook).
    public private(set) var interrupted = false
    /// The step of the checkpoint in `checkpoint/`, which the next one archives when several are kept.
    var lastCheckpointStep: Int?
    /// The metrics as TensorBoard events (`train.tensorboard`).
    var tensorBoard: TensorBoardWriter?
    /// The run's own dropout randomness, swapped in for each step (saved with checkpoints, on GPUs too).
    public private(set) var dropout: DropoutStream
    /// Data-parallel training: parameters come from rank 0 at the start, gradients are averaged over the
    /// ranks after the backward (and adversarial) passes of each step. Each rank draws its own dropout
    /// masks, as one process draws different masks for the two halves of its batch (with rank 0's stream on
    /// every rank, the demo model lost 0.03 on test_a at 6 epochs: docs/results/scaling.md).
    public var dataParallel: DataParallel? {
        didSet {
            guard let rank = dataParallel?.group.rank, rank > 0 else { return }
            dropout = DropoutStream(seed: Self.dropoutSeed(config.seed, rank: rank), device: device)
        }
    }
    /// A data-parallel rank > 0: rank 0's checkpoint folder. The rank resumes from its own checkpoint when
    /// that is at rank 0's step (the same world size: exact), else from rank 0's (the world size changed:
    /// weights, optimizer and position are every rank's; the rank's dropout stream starts afresh).
    public var leaderCheckpoint: URL?

    /// Makes this trainer `rank` of its group (nil: it trains alone), its gradients all-reduced as
    /// `train.overlap_all_reduce` says, resuming from the leader's checkpoint when its own does not fit.
    public func join(_ rank: DataParallelRank?) throws {
        guard let rank else { return }
        dataParallel = try DataParallel(group: rank.group, parameters: parameters, overlapWithBackward: config.train.overlapAllReduce)
        leaderCheckpoint = rank.leader?.checkpointURL
    }

    /// Rank `rank`'s dropout seed: the run's seed for rank 0, a distinct stream for each other rank.
    static func dropoutSeed(_ seed: Int, rank: Int) -> UInt64 {
        UInt64(bitPattern: Int64(seed)) ^ (UInt64(rank) &* 0x9E37_79B9_7F4A_7C15)
    }

    public init(config: RunConfig, run: RunFolder, model: VideoClassifier, labels: LabelSpace, device: Device,
                batchesPerEpoch: Int, objective: Objective) {
        self.config = config
        self.run = run
        self.model = model
        self.store = model.store
        self.device = device
        self.labels = labels
        self.objective = objective
        dropout = DropoutStream(seed: UInt64(config.seed), device: device)
        let train = config.train
        let rates = config.learningRates
        textLearningRate = rates["text"]!
        let groups = GroupLearningRates(
            rates: rates,
            weightDecay: train.weightDecay, layerDecay: config.tricks.layerDecay)
        let bertLayers = model.store.names.compactMap { GroupLearningRates.bertDepth($0) }.max().map { $0 + 1 } ?? 0
        optimizer = AdamW(groups: groups.optimizerGroups(for: model.store, bertLayers: bertLayers))
        parameters = optimizer.parameters
        let stepsPerEpoch = max(1, batchesPerEpoch / train.gradientAccumulation)
        let total = train.maxSteps > 0 ? train.maxSteps : stepsPerEpoch * train.epochs
        schedule = LearningRateSchedule(
            warmupSteps: Int((Double(total) * train.warmupRatio).rounded()), totalSteps: total, decay: train.schedule)
        state.totalSteps = total
        autocastType = train.precision.autocastType
        scaler = train.precision.scalesLoss ? GradScaler() : nil
    }

    // MARK: The training step

    /// One optimizer step over `micro` batches (gradient accumulation): forward → loss → backward →
    /// adversarial pass → (unscale, skip on Inf) → clip → step → averages → schedule. Returns the mean loss,
    /// a 0-d tensor left on the device: nothing in the step waits for the device (fp16's skip decision
    /// aside); the loop reads losses when it logs them (`PendingLosses`), and checks them there.
    public func step(_ micro: [Batch]) throws -> Tensor {
        var total: Tensor?
        var parts: [String: Tensor] = [:]
        let adversarial = tricks.fgm != nil || tricks.pgd != nil
        for (index, batch) in micro.enumerated() {
            let share = 1 / Double(micro.count)
            let lastBatch = index == micro.count - 1
            let forwardLoss = lossFunction(for: batch)
            let loss = forwardLoss()
            try backward(loss.total * share, final: lastBatch && !adversarial)
            total = total.map { $0 + loss.total.detach() * share } ?? loss.total.detach() * share
            for (name, part) in loss.parts { parts[name] = parts[name].map { $0 + part.detach() * share } ?? part.detach() * share }
            if let fgm = tricks.fgm {
                try fgm.withPerturbation { try backward(forwardLoss().total * share, final: lastBatch) }
            } else if let pgd = tricks.pgd {
                try pgd.withPerturbations(parameters: parameters) { lastStep in
                    try backward(forwardLoss().total * share, final: lastBatch && lastStep)
                }
            }
        }
        try dataParallel?.synchronizeGradients()
        if let scaler, !scaler.unscaleAndCheck(parameters) {
            optimizer.zeroGrad()  // an fp16 overflow: skip the step, the scaler backed off
        } else {
            if config.train.clipNorm > 0 { clipGradNorm(parameters, maxNorm: config.train.clipNorm) }
            optimizer.step(learningRateScale: schedule.multiplier(at: state.step))
            optimizer.zeroGrad()
            tricks.ema?.update()
        }
        state.step += 1
        lastLossParts = parts
        for hook in afterStep { hook(self) }
        return total!
    }

    /// The forward pass and loss of `batch`, which adversarial passes call again: the task's when there is
    /// one, else the classification objective's.
    func lossFunction(for batch: Batch) -> () -> BatchLoss {
        if let task {
            let forward = task.lossFunction(for: batch, device: device)
            return { withAutocast(self.device, dtype: self.autocastType ?? .bfloat16, enabled: self.autocastType != nil, forward) }
        }
        let input = batch.input(on: device)
        let labels = batch.labelTensor(on: device)
        return { BatchLoss(total: self.forwardLoss(input, labels, batch)) }
    }

    /// The training loss of one batch: one forward pass, or two under R-Drop.
    func forwardLoss(_ input: VideoBatchInput, _ labels: Tensor, _ batch: Batch) -> Tensor {
        func task(_ output: ClassifierOutput) -> Tensor {
            softTargets?.loss(output, batch: batch, objective: objective, device: device) ?? objective.loss(output, labels: labels)
        }
        return withAutocast(device, dtype: autocastType ?? .bfloat16, enabled: autocastType != nil) {
            let first = model.forward(input, train: true)
            guard let rdrop = tricks.rdrop else { return task(first) }
            let second = model.forward(input, train: true)
            return rdrop.loss(task1: task(first), task2: task(second), logits1: first.logits, logits2: second.logits)
        }
    }

    /// The backward pass of `loss`. The step's last one (`final`: its gradients are final) also averages the
    /// gradients over the ranks of a data-parallel run, overlapped with the pass, and carries this rank's vote
    /// to stop.
    func backward(_ loss: Tensor, final: Bool) throws {
        let scaled = scaler?.scaled(loss) ?? loss
        if final { try dataParallel?.beforeFinalBackward(of: scaled, votingToStop: shouldStop() || patienceRanOut) }
        scaled.backward()
    }

    /// Runs `body` with the weights that are evaluated and saved: the EMA's when it is on.
    public func withEvaluationWeights<R>(_ body: () throws -> R) rethrows -> R {
        if let ema = tricks.ema { return try ema.withAveragedWeights(body) }
        return try body()
    }

    // MARK: The loop

    /// Trains to the end of the schedule (or until early stopping), resuming from the run's checkpoint when
    /// there is one. Checkpoints at each evaluation, every `train.checkpoint_every` steps, at the end of each
    /// epoch, and when `shouldStop` answers true.
    /// - evaluate: scores the current weights on held-out data (nil: no evaluation; the last model is kept).
    public func fit(loader: DataLoader, evaluate: (() throws -> (ChallengeScore, Predictions))?) throws -> TrainerState {
        if let resumed = try resumeIfPossible() {
            onEvent(.resumed(resumed, run: run.url))
            try MetricsLog.truncate(run.metricsURL, afterStep: resumed.step)
        }
        try dataParallel?.broadcastFromRankZero(store.all.map(\.tensor))
        // Opened after the truncation, which replaces the file: a handle opened before would write to the old one.
        let log = try MetricsLog(url: run.metricsURL)
        if config.train.tensorboard { tensorBoard = try TensorBoardWriter(folder: run.tensorBoardURL) }
        defer { try? tensorBoard?.flush() }
        guard loader.batchesPerEpoch > 0 else { throw TrainingError.noTrainingData("the training split has no batches") }
        let train = config.train
        let started = Date()
        var samplesSinceStart = 0
        var dataWait = 0.0
        let firstStep = state.step + 1
        var pending = PendingLosses()
        /// Reads the queued losses (the loop's one host sync): before a log line, an evaluation or a checkpoint.
        /// Returns the last one read.
        func flushLosses() throws -> Double? {
            let flushed = try pending.flush(to: log)
            for record in flushed {
                try tensorBoard?.add(scalars: [
                    "train/loss": record.values["loss"] ?? .nan, "train/lr": record.values["lr"] ?? .nan,
                    "train/samples_per_second": record.values["samples_per_second"] ?? .nan,
                ], step: record.step)
            }
            return flushed.last?.values["loss"]
        }

        epochs: while state.step < state.totalSteps {
            var micro: [Batch] = []
            let stream = loader.batches(from: LoaderPosition(epoch: state.epoch, batch: state.batchInEpoch))
            defer { stream.close() }
            var waitStarted = Date()
            while let batch = try stream.next() {
                dataWait += Date().timeIntervalSince(waitStarted)
                defer { waitStarted = Date() }
                micro.append(batch)
                guard micro.count == train.gradientAccumulation else { continue }
                let loss = try dropout.withDropout { try step(micro) }
                state.batchInEpoch += micro.count
                samplesSinceStart += micro.reduce(0) { $0 + $1.count } * (dataParallel?.group.worldSize ?? 1)
                micro = []
                let elapsed = max(Date().timeIntervalSince(started), 1e-9)
                let learningRate = textLearningRate * schedule.multiplier(at: state.step - 1)
                pending.append(MetricsRecord(kind: "train", step: state.step, epoch: state.epoch, values: [
                    "lr": learningRate, "samples_per_second": Double(samplesSinceStart) / elapsed,
                    "data_wait_fraction": dataWait / elapsed,
                ]), loss: loss, parts: lastLossParts)
                let lastStep = state.step >= state.totalSteps
                let evaluating = evaluate != nil && train.evalEvery > 0 && (state.step % train.evalEvery == 0 || lastStep)
                let reading = state.step % max(train.logEvery, 1) == 0 || state.step == firstStep || lastStep || evaluating
                let readLoss = reading ? try flushLosses() : nil
                onEvent(.step(StepProgress(
                    step: state.step, totalSteps: state.totalSteps, epoch: state.epoch, loss: readLoss,
                    learningRate: learningRate, samplesPerSecond: Double(samplesSinceStart) / elapsed,
                    dataWaitFraction: dataWait / elapsed)))

                if evaluating, let evaluate { try evaluateAndKeepBest(evaluate, log: log) }
                // Data-parallel ranks stop together, on the tally of the votes cast in this step's all-reduce.
                let stopRequested = dataParallel.map(\.stopAgreed) ?? (shouldStop() || patienceRanOut)
                let stopping = stopRequested || stopAfterStep == state.step
                if evaluating || stopping || (train.checkpointEvery > 0 && state.step % train.checkpointEvery == 0) {
                    _ = try flushLosses()  // a checkpoint never holds weights a non-finite loss came from
                    try saveCheckpoint()
                }
                if stopping { break epochs }
                if lastStep { break }
            }
            // End of an epoch (or of the schedule, mid-epoch).
            _ = try flushLosses()
            if state.step < state.totalSteps || state.batchInEpoch >= loader.batchesPerEpoch {
                state.epoch += 1
                state.batchInEpoch = 0
            }
            if let evaluate, train.evalEvery == 0 { try evaluateAndKeepBest(evaluate, log: log) }
            try saveCheckpoint()
            if patienceRanOut && dataParallel == nil { break }  // data-parallel: rank 0 votes in the next step
        }
        if state.step < state.totalSteps {
            if patienceRanOut {
                onEvent(.stoppedEarly(step: state.step, reason: .noImprovement(evaluations: state.evaluationsWithoutImprovement)))
            } else {
                interrupted = true
                if stopAfterStep != state.step { onEvent(.stoppedEarly(step: state.step, reason: .requested)) }
                return state
            }
        }
        if evaluate == nil { try withEvaluationWeights { try run.model.saveWeights(store) } }
        try writePlot()
        return state
    }

    /// Whether `train.early_stopping_patience` evaluations in a row brought no better score.
    var patienceRanOut: Bool {
        config.train.earlyStoppingPatience > 0 && state.evaluationsWithoutImprovement >= config.train.earlyStoppingPatience
    }

    func evaluateAndKeepBest(_ evaluate: () throws -> (ChallengeScore, Predictions), log: MetricsLog) throws {
        try withEvaluationWeights {
            let (score, _) = try evaluate()
            try log.append(MetricsRecord(kind: "eval", step: state.step, epoch: state.epoch, values: [
                "score": score.mean, "level1_micro_f1": score.level1MicroF1, "level1_macro_f1": score.level1MacroF1,
                "level2_micro_f1": score.level2MicroF1, "level2_macro_f1": score.level2MacroF1,
            ]))
            try tensorBoard?.add(scalars: [
                "eval/score": score.mean, "eval/level1_micro_f1": score.level1MicroF1, "eval/level1_macro_f1": score.level1MacroF1,
                "eval/level2_micro_f1": score.level2MicroF1, "eval/level2_macro_f1": score.level2MacroF1,
            ], step: state.step)
            let better = score.mean > state.bestScore
            onEvent(.evaluated(step: state.step, score: score, isBest: better))
            if better {
                state.bestScore = score.mean
                state.bestStep = state.step
                state.evaluationsWithoutImprovement = 0
                try run.model.saveWeights(store)
                try AtomicFile.write(Data(score.level2.table().utf8), to: run.bestReportURL)
                try AtomicFile.write(try JSONEncoder().encode(score), to: run.bestScoreURL)
            } else {
                state.evaluationsWithoutImprovement += 1
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
        var rng = ["dropout": dropout.state]
        rng["optimizer_step"] = Tensor([Int64(optimizerState.step)], shape: [1])
        let keep = config.train.keepCheckpoints
        // The replaced checkpoint is archived unless it is of this same step (a second write at an epoch's end).
        let archive = keep > 1 && lastCheckpointStep != state.step
            ? lastCheckpointStep.map { run.archivedCheckpointsURL.appendingPathComponent("step-\($0)") } : nil
        try Checkpoint(model: store.stateDict(), optimizer: optimizerState.tensors, rng: rng, state: state,
                       extras: tricks.ema?.stateDict() ?? [:])
            .write(to: run.checkpointURL, archive: archive)
        if keep > 1 { try Checkpoint.prune(archive: run.archivedCheckpointsURL, keeping: keep - 1) }
        lastCheckpointStep = state.step
        onEvent(.checkpointSaved(step: state.step))
    }

    func resumeIfPossible() throws -> TrainerState? {
        guard let folder = try checkpointToResume() else { return nil }
        let checkpoint = try Checkpoint.read(from: folder)
        try store.load(checkpoint.model, strict: true, source: folder.appendingPathComponent("model.safetensors").path)
        let step = checkpoint.rng["optimizer_step"].map { $0.intItem() } ?? checkpoint.state.step
        try optimizer.load(tensors: checkpoint.optimizer, step: step)
        // Checkpoints written before the run had its own stream saved the default CPU generator instead.
        let fromLeader = folder != Checkpoint.latest(at: run.checkpointURL)
        if !fromLeader, let state = checkpoint.rng["dropout"] ?? checkpoint.rng["default_cpu"] { dropout.restore(state) }
        if let ema = tricks.ema { try ema.load(checkpoint.extras) }
        let planned = state.totalSteps
        state = checkpoint.state
        lastCheckpointStep = state.step
        state.totalSteps = planned
        scaler?.restore(state.scaler)
        return state
    }

    func checkpointToResume() throws -> URL? {
        let own = Checkpoint.latest(at: run.checkpointURL)
        guard let leader = leaderCheckpoint.flatMap(Checkpoint.latest(at:)) else { return own }
        if let own, try Checkpoint.readState(from: own).step == Checkpoint.readState(from: leader).step { return own }
        return leader
    }

    func writePlot() throws {
        let records = (try? MetricsLog.read(run.metricsURL)) ?? []
        let svg = CurvePlot.svg(records: records, title: "vidtag — \(run.url.lastPathComponent) (\(config.model.kind.rawValue))")
        try AtomicFile.write(Data(svg.utf8), to: run.plotURL)
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
