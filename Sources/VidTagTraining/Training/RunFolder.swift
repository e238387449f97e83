import Foundation
import Torch

/// The files of a run folder (which is also its model folder).
public struct RunFolder {
    public let url: URL
    public init(_ url: URL) { self.url = url }
    public var model: ModelFolder { ModelFolder(url) }
    public var configURL: URL { url.appendingPathComponent("run_config.json") }
    /// The newest checkpoint, which `--resume` reads.
    public var checkpointURL: URL { url.appendingPathComponent("checkpoint") }
    /// Older checkpoints kept with `train.keep_checkpoints` > 1.
    public var archivedCheckpointsURL: URL { url.appendingPathComponent("checkpoints") }
    public var metricsURL: URL { url.appendingPathComponent("metrics.jsonl") }
    public var plotURL: URL { url.appendingPathComponent("curves.svg") }
    public var splitURL: URL { url.appendingPathComponent("folds.json") }
    public var snapshotsURL: URL { url.appendingPathComponent("snapshots") }
    /// The best model's predictions of the held-out fold.
    public var outOfFoldURL: URL { url.appendingPathComponent("oof.safetensors") }

    /// The prediction-time small-class boost tuned on the out-of-fold predictions (`vidtag tune-boost`).
    public var boostURL: URL { url.appendingPathComponent("boost.json") }
    /// The per-class report of the best evaluation.
    public var bestReportURL: URL { url.appendingPathComponent("best_report.txt") }
    /// Both levels' per-class reports of the best evaluation, as JSON (a ``ChallengeScore``).
    public var bestScoreURL: URL { url.appendingPathComponent("best_report.json") }
    /// TensorBoard event files (`train.tensorboard`).
    public var tensorBoardURL: URL { url.appendingPathComponent("tensorboard") }

    /// The run's description files, which a model derived from it (SWA, a copy) keeps beside the model's.
    public var runDescriptionURLs: [URL] { [configURL, splitURL] }

    /// Copies the model description and the run's description (settings, folds) into `target`.
    public func copyDescription(to target: ModelFolder) throws {
        try model.copyDescription(to: target)
        for source in runDescriptionURLs where FileManager.default.fileExists(atPath: source.path) {
            try AtomicFile.write(try Data(contentsOf: source), to: target.url.appendingPathComponent(source.lastPathComponent))
        }
    }

    /// Whether a run already lives here.
    public var holdsRun: Bool {
        FileManager.default.fileExists(atPath: configURL.path) || FileManager.default.fileExists(atPath: metricsURL.path)
    }
}
