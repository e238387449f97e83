import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// `vidtag evaluate`: the challenge score and per-class report of a trained model.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a trained model: the challenge score table and a per-class report.",
        discussion: """
            By default it scores the run's held-out fold of the training split (folds.json). With --split
            it scores another split, whose labels come from its annotations or from --truth (a CSV of
            id,category_id lines, as the demo's test_a_truth.csv).
            """)

    @Option(help: "Data root.") var data: String
    @Option(help: "Model or run folder.") var model: String
    @Option(help: "Split to score (default: the run's held-out fold).") var split: String?
    @Option(help: "CSV of id,category_id giving the truth of --split.") var truth: String?
    @Option(help: "cpu or cuda[:n].") var device = "cpu"
    @Option(help: "Write the per-class report to this file.") var report: String?
    @Flag(help: "Print the score table and per-class reports as one JSON object instead.") var json = false

    func run() throws {
        try Runtime.checkVersion()
        let runner = try ModelRunner(model: URL(fileURLWithPath: model), device: try TrainingSession.device(device))
        let data = DataRoot(path: data)
        var predictions: Predictions
        if let split {
            (predictions, _) = try runner.predict(data: data, split: split)
            if let truth {
                let table = try TruthTable(contentsOf: URL(fileURLWithPath: truth), labels: runner.loaded.labels)
                predictions.labels = try predictions.ids.map { id in
                    guard let label = table.labels[id] else { throw ValidationError("\(truth) has no line for video \(id)") }
                    return Int32(label)
                }
            }
        } else {
            let config = try RunConfig.load(URL(fileURLWithPath: model).appendingPathComponent("run_config.json"))
            (predictions, _) = try runner.predict(data: data, split: config.data.trainSplit, select: runner.heldOutFold())
        }
        guard !predictions.labels.contains(-1) else {
            throw ValidationError("some videos have no label: score a labelled split, or give --truth")
        }
        let score = try predictions.score(labelSpace: runner.loaded.labels)
        if json {
            let text = try ScoreJSON.text(score)
            if let report { try Data(text.utf8).write(to: URL(fileURLWithPath: report)) } else { print(text) }
            return
        }
        print(score.summary)
        let text = "level 1\n" + score.level1.table() + "\nlevel 2\n" + score.level2.table()
        if let report {
            try Data(text.utf8).write(to: URL(fileURLWithPath: report))
            print("per-class report: \(report)")
        } else {
            print(text)
        }
    }
}

/// The truth of an unlabelled split: `id,category_id` lines.
struct TruthTable {
    var labels: [String: Int] = [:]

    init(contentsOf url: URL, labels space: LabelSpace) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, let label = space.level2Index(of: fields[1]) else {
                throw ValidationError("\(url.path):\(number + 1): expected id,category_id with a known category, got '\(line)'")
            }
            labels[fields[0]] = label
        }
    }
}
