import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// `vidtag tune-boost`: the small-class boost tuned on out-of-fold predictions: a K-fold run's, or an
/// ensemble's (kinds may differ) over the same folds.
struct TuneBoostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune-boost",
        abstract: "Tune the prediction-time boost of small classes on out-of-fold predictions (never on test).",
        discussion: "Writes boost.json into the run; pass it to `vidtag predict --boost`.")

    @OptionGroup var models: ModelOptions
    @Option(help: "Data root (for the label space, and for held-out predictions a folder does not have yet).") var data: String
    @Option(help: "Where to write boost.json (default: beside the first --model).") var out: String?

    func run() throws {
        let selection = try models.selection()
        let data = DataRoot(path: data)
        let labels = try LabelSpace(for: data)
        // The held-out predictions the models were selected on (saved by training, else made), combined.
        let outOfFold = try selection.predictHeldOut(data: data, device: try models.parsedDevice()).predictions
        var counts = [Int](repeating: 0, count: labels.level2Count)
        for label in outOfFold.truth where label >= 0 { counts[Int(label)] += 1 }
        let boost = try SmallClassBoost.tune(outOfFold: outOfFold, counts: counts, labelSpace: labels)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let url = out.map { URL(fileURLWithPath: $0) } ?? RunFolder(selection.given[0]).boostURL
        try AtomicFile.write(try encoder.encode(boost), to: url)
        print(String(format: "beta %.2f: out-of-fold score %.4f → %.4f (%@)", boost.beta, boost.scoreBefore ?? 0,
                     boost.scoreAfter ?? 0, url.path))
    }
}

/// `vidtag tune-weights`: ensemble weights tuned on the members' out-of-fold predictions.
struct TuneWeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune-weights",
        abstract: "Tune ensemble weights on the members' out-of-fold predictions (never on test).",
        discussion: """
            The members (model kinds may differ) must have held out the same videos: K-fold runs (any \
            folds), or models with the same held-out fold (data.folds_seed). Coordinate ascent on the challenge \
            score from equal weights; prints the --weights to pass to evaluate / predict (one per --model) and \
            writes them to weights.json. The tuned score selected the weights: report the ensemble on test.
            """)

    @OptionGroup var models: ModelOptions
    @Option(help: "Data root (for the label space, and for held-out predictions a folder does not have yet).") var data: String
    @Option(help: "Where to write weights.json (default: beside the first --model).") var out: String?

    func run() throws {
        let selection = try models.selection()
        guard selection.given.count > 1 else {
            throw ValidationError("give two or more --model folders (a K-fold folder counts once)")
        }
        let (members, labels) = try selection.heldOutByFolder(data: DataRoot(path: data), device: try models.parsedDevice())
        let tuned = try EnsembleWeights.tune(members, labels: labels, averaging: selection.averaging)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let url = out.map { URL(fileURLWithPath: $0) }
            ?? selection.given[0].appendingPathComponent("weights.json")
        try AtomicFile.write(try encoder.encode(tuned), to: url)
        let text = tuned.weights.map { String(format: "%.3f", $0) }.joined(separator: ",")
        print(String(format: "out-of-fold score %.4f (equal weights) → %.4f; --weights %@ (%@)",
                     tuned.scoreBefore, tuned.scoreAfter, text, url.path))
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
        let target = ModelFolder(URL(fileURLWithPath: out ?? run.url.appendingPathComponent("swa").path))
        try run.copyDescription(to: target)
        try target.saveWeights(averaged, producer: "vidtag average")
        print("averaged \(chosen.count) snapshots (steps \(chosen.map(\.step).sorted())) into \(target.url.path)")
    }
}
