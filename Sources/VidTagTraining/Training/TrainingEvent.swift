import Foundation
import Torch
import VidTagData
import VidTagModels

/// What a training run reports as it goes. Libraries never print: the command line (or a server, or a
/// program embedding vidtag) decides what a person sees by handling these.
public enum TrainingEvent: Sendable {
    /// Records of the training split that were left out (`data.bad_record_policy=skip`).
    case annotationsSkipped(AnnotationReport)
    /// A vocabulary was made from the training texts (no pretrained text encoder).
    case vocabularyBuilt(tokens: Int, url: URL)
    /// Pretrained weights loaded into the text or frame encoder, with what was ignored.
    case pretrainedLoaded(part: String, source: String, report: CheckpointLoadReport)
    /// The model is built and training is about to start.
    case started(TrainingStart)
    /// Training continues from a checkpoint.
    case resumed(TrainerState, run: URL)
    /// One optimizer step ended; `loss` is set on the steps that read it (every `train.log_every` steps).
    case step(StepProgress)
    /// The held-out fold was scored.
    case evaluated(step: Int, score: ChallengeScore, isBest: Bool)
    /// A checkpoint was written.
    case checkpointSaved(step: Int)
    /// Training stopped before the end of its schedule.
    case stoppedEarly(step: Int, reason: StopReason)
    /// One fold of a K-fold training starts.
    case foldStarted(fold: Int, of: Int, seed: Int)
}

/// What a run is about to train.
public struct TrainingStart: Sendable {
    public var modelKind: ModelKind
    public var modalities: Modalities
    public var parameters: Int
    public var trainVideos: Int
    public var heldOutVideos: Int
    public var fold: Int
    public var device: String
    public var totalSteps: Int
}

/// Where training is after a step.
public struct StepProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    /// The mean training loss since the last read (nil on steps that do not read it).
    public var loss: Double?
    public var learningRate: Double
    public var samplesPerSecond: Double
    /// Share of wall time spent waiting for batches.
    public var dataWaitFraction: Double
}

/// Why a run ended before its schedule did.
public enum StopReason: Sendable, Equatable {
    /// Asked to stop (SIGTERM / SIGINT, a preempted job): a checkpoint was written, `--resume` continues.
    case requested
    /// `train.early_stopping_patience` evaluations without a better held-out score.
    case noImprovement(evaluations: Int)
}
