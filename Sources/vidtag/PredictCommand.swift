import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// `vidtag predict`: a model or an ensemble over a split to a `result.csv` submission, or over annotation
/// records given as JSON lines.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict", abstract: "Predict a split and write result.csv ({id},{category_id}, no header).",
        discussion: """
            With --input, predicts annotation records given as JSON lines (a file, or - for standard input) instead
            of a data root's split, and writes JSON lines or CSV (to standard output unless --out says otherwise).
            """)

    @Option(help: "Data root (or give --input).") var data: String?
    @Option(help: "Split to predict.") var split = "test_a"
    @Option(help: "Annotation records as JSON lines, a file or - for standard input (instead of --data/--split).")
    var input: String?
    @Option(help: "With --input: jsonl (id, category_id, probability, level1_id, level1_probability) or csv.")
    var format = RecordPrediction.Format.jsonl
    @OptionGroup var models: ModelOptions
    @Option(help: "Output file (default: result.csv; with --input, - for standard output).") var out: String?
    @Option(help: "Also save the probabilities (safetensors) here.") var probabilities: String?
    @Option(help: "Videos per forward pass.") var batchSize = 64
    @Option(help: "Background threads building batches.") var workers = 2

    func run() throws {
        try Runtime.checkVersion()
        let started = Date()
        let selection = try models.selection()
        let device = try models.parsedDevice()
        let dtype = try models.castType()
        if let input {
            let records = try RecordPrediction.records(from: input, labels: nil)
            var members: [Predictions] = []
            var labels: LabelSpace?
            for folder in selection.members {
                let (member, space) = try RecordPrediction.predict(records, model: folder, device: device, dtype: dtype,
                                                                   batchSize: batchSize, workers: workers)
                if let labels, labels.level2Ids != space.level2Ids {
                    throw ValidationError("\(folder.path) predicts other classes than the first model")
                }
                labels = space
                members.append(member)
            }
            let predictions = try selection.combine(members)
            if let probabilities { try predictions.save(to: URL(fileURLWithPath: probabilities)) }
            try RecordPrediction.write(predictions, labels: labels!, format: format, to: out ?? "-")
            return
        }
        guard let data else { throw ValidationError("give --data (a data root) or --input (JSON lines)") }
        let (predictions, labels, reports) = try selection.predict(
            data: DataRoot(path: data), split: split, device: device, dtype: dtype, workers: workers, batchSize: batchSize)
        if let skipped = reports.first(where: { $0.recordsSkipped > 0 }) { print("annotations: \(skipped)") }
        if let probabilities { try predictions.save(to: URL(fileURLWithPath: probabilities)) }
        let out = out ?? "result.csv"
        let rows = zip(predictions.ids, predictions.predictedClasses).map { (id: $0, categoryId: labels.level2Ids[$1]) }
        try SubmissionWriter.write(rows, to: URL(fileURLWithPath: out))
        let seconds = Date().timeIntervalSince(started)
        print(String(format: "wrote %@: %d videos, %d model(s), in %.1f s (%.0f videos/s)", out, rows.count,
                     selection.members.count, seconds, Double(rows.count) / max(seconds, 1e-9)))
    }
}
