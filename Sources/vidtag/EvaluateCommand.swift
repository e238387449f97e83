import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// `vidtag evaluate`: the challenge score and per-class report of a model or an ensemble.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a model or an ensemble: the challenge score table and a per-class report.",
        discussion: """
            Without --split it scores the videos the model was selected on: a model folder's held-out fold
            (recorded in its data_settings.json), or a K-fold folder's out-of-fold predictions. With --split it
            scores every --model together (an ensemble) on that split, whose labels come from its annotations
            or from --truth (a CSV of id,category_id lines, as the demo's test_a_truth.csv).
            """)

    @Option(help: "Data root.") var data: String
    @OptionGroup var models: ModelOptions
    @Option(help: "Split to score (default: the held-out fold).") var split: String?
    @Option(help: "CSV of id,category_id giving the truth of --split.") var truth: String?
    @Option(help: "Write the per-class report to this file.") var report: String?
    @Flag(help: "Print the score table and per-class reports as one JSON object instead.") var json = false

    func run() throws {
        try Runtime.checkVersion()
        let selection = try models.selection()
        let data = DataRoot(path: data)
        var (predictions, labels): (Predictions, LabelSpace)
        if let split {
            let result = try selection.predict(data: data, split: split, device: try models.parsedDevice(),
                                               dtype: try models.castType())
            (predictions, labels) = (result.predictions, result.labels)
            if let truth {
                let table = try TruthTable(contentsOf: URL(fileURLWithPath: truth), labels: labels)
                predictions.truth = try table.classes(of: predictions.ids, source: truth)
            }
        } else {
            guard truth == nil else { throw ValidationError("--truth gives the labels of a --split: give --split too") }
            (predictions, labels) = try selection.predictHeldOut(data: data, device: try models.parsedDevice())
        }
        guard !predictions.truth.contains(-1) else {
            throw ValidationError("some videos have no label: score a labelled split, or give --truth")
        }
        let score = try predictions.score(labelSpace: labels)
        let text = "level 1\n" + score.level1.table() + "\nlevel 2\n" + score.level2.table()
        if json {
            print(try ScoreJSON.text(score))
        } else {
            print(score.summary)
        }
        if let report {
            try Data(text.utf8).write(to: URL(fileURLWithPath: report))
            if !json { print("per-class report: \(report)") }
        } else if !json {
            print(text)
        }
    }
}

/// The truth of an unlabelled split: `id,category_id` lines.
struct TruthTable {
    var labels: [String: Int] = [:]

    init(contentsOf url: URL, labels space: LabelSpace) throws {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ValidationError("cannot read truth file \(url.path): \(error.localizedDescription)")
        }
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, let label = space.level2Index(of: fields[1]) else {
                throw ValidationError("\(url.path):\(number + 1): expected id,category_id with a known category, got '\(line)'")
            }
            guard labels[fields[0]] == nil else {
                throw ValidationError("\(url.path):\(number + 1): video \(fields[0]) appears a second time")
            }
            labels[fields[0]] = label
        }
    }

    /// The true class of each id, in order; an id without a line is an error naming it.
    func classes(of ids: [String], source: String) throws -> [Int32] {
        try ids.map { id in
            guard let label = labels[id] else { throw ValidationError("\(source) has no line for video \(id)") }
            return Int32(label)
        }
    }
}
