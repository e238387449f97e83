import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// `vidtag tune-boost`: the small-class boost tuned on a K-fold run's out-of-fold predictions.
struct TuneBoostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune-boost",
        abstract: "Tune the prediction-time boost of small classes on out-of-fold predictions (never on test).",
        discussion: "Writes boost.json into the run; pass it to `vidtag predict --boost`.")

    @Option(help: "A run with out-of-fold predictions (oof.safetensors), e.g. a K-fold run.") var model: String
    @Option(help: "Data root (for the label space).") var data: String

    func run() throws {
        let folder = URL(fileURLWithPath: model)
        let outOfFold = try Predictions.load(folder.appendingPathComponent("oof.safetensors"))
        let labels = try TrainingSession.labelSpace(for: DataRoot(path: data))
        var counts = [Int](repeating: 0, count: labels.level2Count)
        for label in outOfFold.labels where label >= 0 { counts[Int(label)] += 1 }
        let boost = try SmallClassBoost.tune(outOfFold: outOfFold, counts: counts, labelSpace: labels)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let url = folder.appendingPathComponent("boost.json")
        try AtomicFile.write(try encoder.encode(boost), to: url)
        print(String(format: "beta %.2f: out-of-fold score %.4f → %.4f (%@)", boost.beta, boost.scoreBefore ?? 0,
                     boost.scoreAfter ?? 0, url.path))
    }
}

/// `vidtag average`: SWA over a run's weight snapshots.
struct AverageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "average",
        abstract: "Average a run's weight snapshots (SWA) into a new model folder.",
        discussion: "Snapshots are kept at evaluations when the run had --set tricks.keep_snapshots=K.")

    @Option(help: "The run folder.") var model: String
    @Option(help: "Average the last K snapshots.") var last: Int?
    @Option(help: "Average the best K snapshots (by held-out score).") var best: Int?
    @Option(help: "Model folder to write (default: RUN/swa).") var out: String?

    func run() throws {
        guard (last == nil) != (best == nil), max(last ?? 0, best ?? 0) > 0 else {
            throw ValidationError("give one of --last K or --best K (K ≥ 1)")
        }
        let run = RunFolder(URL(fileURLWithPath: model))
        let snapshots = SnapshotSet(folder: run.snapshotsURL)
        let entries = try snapshots.entries()
        guard !entries.isEmpty else {
            throw ValidationError("\(run.snapshotsURL.path) holds no snapshots: train with --set tricks.keep_snapshots=K")
        }
        let chosen = last.map { SnapshotSet.last($0, of: entries) } ?? SnapshotSet.best(best!, of: entries)
        let averaged = try Torch.catching { try snapshots.average(chosen) }
        let target = URL(fileURLWithPath: out ?? run.url.appendingPathComponent("swa").path)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        for name in ["config.json", "vocab.txt", "labels.json", "data_settings.json", "run_config.json", "folds.json"] {
            let source = run.url.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: source.path) else { continue }
            try AtomicFile.write(try Data(contentsOf: source), to: target.appendingPathComponent(name))
        }
        try SafeTensors.save(averaged, metadata: ["format": "pt", "producer": "vidtag average"],
                             to: target.appendingPathComponent("model.safetensors"))
        print("averaged \(chosen.count) snapshots (steps \(chosen.map(\.step).sorted())) into \(target.path)")
    }
}
