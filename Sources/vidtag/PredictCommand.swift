import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// `vidtag predict`: a model over a split to a `result.csv` submission.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict", abstract: "Predict a split and write result.csv ({id},{category_id}, no header).")

    @Option(help: "Data root.") var data: String
    @Option(help: "Split to predict.") var split = "test_a"
    @Option(help: "Model or run folder.") var model: String
    @Option(help: "Output CSV.") var out = "result.csv"
    @Option(help: "cpu or cuda[:n].") var device = "cpu"
    @Option(help: "Inference precision: fp32, bf16 or fp16 (weights cast).") var dtype = "fp32"

    func run() throws {
        try Runtime.checkVersion()
        guard let type = DType(name: dtype), [.float32, .bfloat16, .float16].contains(type) else {
            throw ValidationError("--dtype \(dtype): expected fp32, bf16 or fp16")
        }
        let started = Date()
        let runner = try ModelRunner(model: URL(fileURLWithPath: model), device: try TrainingSession.device(device))
        let (predictions, _) = try runner.predict(data: DataRoot(path: data), split: split,
                                                  dtype: type == .float32 ? nil : type)
        let labels = runner.loaded.labels
        let rows = zip(predictions.ids, predictions.predictedClasses).map { (id: $0, categoryId: labels.level2Ids[$1]) }
        try SubmissionWriter.write(rows, to: URL(fileURLWithPath: out))
        let seconds = Date().timeIntervalSince(started)
        print(String(format: "wrote %@: %d videos in %.1f s (%.0f videos/s)", out, rows.count, seconds,
                     Double(rows.count) / max(seconds, 1e-9)))
    }
}
