import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// `vidtag predict`: a model or an ensemble over a split to a `result.csv` submission.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict", abstract: "Predict a split and write result.csv ({id},{category_id}, no header).")

    @Option(help: "Data root.") var data: String
    @Option(help: "Split to predict.") var split = "test_a"
    @OptionGroup var models: ModelOptions
    @Option(help: "Output CSV.") var out = "result.csv"
    @Option(help: "Also save the probabilities (safetensors) here.") var probabilities: String?
    @Option(help: "Videos per forward pass.") var batchSize = 64
    @Option(help: "Background threads building batches.") var workers = 2

    func run() throws {
        try Runtime.checkVersion()
        let started = Date()
        let selection = try models.selection()
        let (predictions, labels, reports) = try selection.predict(
            data: DataRoot(path: data), split: split, device: try models.parsedDevice(), dtype: try models.castType(),
            workers: workers, batchSize: batchSize)
        if let skipped = reports.first(where: { $0.recordsSkipped > 0 }) { print("annotations: \(skipped)") }
        if let probabilities { try predictions.save(to: URL(fileURLWithPath: probabilities)) }
        let rows = zip(predictions.ids, predictions.predictedClasses).map { (id: $0, categoryId: labels.level2Ids[$1]) }
        try SubmissionWriter.write(rows, to: URL(fileURLWithPath: out))
        let seconds = Date().timeIntervalSince(started)
        print(String(format: "wrote %@: %d videos, %d model(s), in %.1f s (%.0f videos/s)", out, rows.count,
                     selection.members.count, seconds, Double(rows.count) / max(seconds, 1e-9)))
    }
}
