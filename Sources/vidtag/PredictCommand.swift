import ArgumentParser
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// `vidtag predict`: a model over a split to a `result.csv` submission.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict", abstract: "Predict a split and write result.csv ({id},{category_id}, no header).",
        discussion: """
            With --input, predicts annotation records given as JSON lines (a file, or - for standard input) instead
            of a data root's split, and writes JSON lines or CSV (to standard output unless --out says otherwise).
            """)

    @Option(help: "Data root (or give --input).") var data: String?
    @Option(help: "Annotation records as JSON lines, a file or - for standard input (instead of --data/--split).")
    var input: String?
    @Option(help: "With --input: jsonl (id, category_id, probability, level1_id, level1_probability) or csv.")
    var format = RecordPrediction.Format.jsonl
    @Option(help: "Videos per forward pass.") var batchSize = 64
    @Option(help: "Threads preparing samples.") var workers = 2
    @Option(help: "Split to predict.") var split = "test_a"
    @Option(help: "Model or run folder; repeat for an ensemble (a K-fold run folder counts as all its folds).")
    var model: [String]
    @Option(help: "Ensemble weights, one per model, comma-separated (default: equal).") var weights: String?
    @Option(help: "Ensemble averaging: probabilities or logits.") var average = "probabilities"
    @Option(help: "A boost.json from `vidtag tune-boost` to rescale small classes' probabilities.") var boost: String?
    @Option(help: "Output file (default: result.csv; with --input, - for standard output).") var out: String?
    @Option(help: "Also save the probabilities (safetensors) here.") var probabilities: String?
    @Option(help: "cpu or cuda[:n].") var device = "cpu"
    @Option(help: "Inference precision: fp32, bf16 or fp16 (weights cast).") var dtype = "fp32"

    func run() throws {
        try Runtime.checkVersion()
        guard let type = DType(name: dtype), [.float32, .bfloat16, .float16].contains(type) else {
            throw ValidationError("--dtype \(dtype): expected fp32, bf16 or fp16")
        }
        guard let averaging = Ensemble.Averaging(rawValue: average) else {
            throw ValidationError("--average \(average): expected probabilities or logits")
        }
        let started = Date()
        let folders = try ModelList.expand(model)
        let device = try TrainingSession.device(device)
        var members: [Predictions] = []
        var labels: LabelSpace?
        let records = try input.map { try RecordPrediction.records(from: $0, labels: nil) }
        guard records != nil || data != nil else { throw ValidationError("give --data (a data root) or --input (JSON lines)") }
        for folder in folders {
            let predictions: Predictions
            let memberLabels: LabelSpace
            if let records {
                (predictions, memberLabels) = try RecordPrediction.predict(
                    records, model: folder, device: device, dtype: type == .float32 ? nil : type, batchSize: batchSize,
                    workers: workers)
            } else {
                let runner = try ModelRunner(model: folder, device: device, workers: workers, batchSize: batchSize)
                (predictions, _) = try runner.predict(data: DataRoot(path: data!), split: split,
                                                      dtype: type == .float32 ? nil : type)
                memberLabels = runner.loaded.labels
            }
            if let labels, labels.level2Ids != memberLabels.level2Ids {
                throw ValidationError("\(folder.path) predicts other classes than the first model")
            }
            labels = memberLabels
            members.append(predictions)
        }
        let weightValues = try weights.map { text in
            try text.split(separator: ",").map { part -> Double in
                guard let value = Double(part.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--weights \(text): '\(part)' is not a number")
                }
                return value
            }
        }
        var predictions = try Ensemble.combine(members, weights: weightValues, averaging: averaging)
        if let boost {
            let settings = try JSONDecoder().decode(SmallClassBoost.self, from: Data(contentsOf: URL(fileURLWithPath: boost)))
            predictions = settings.apply(to: predictions)
        }
        if let probabilities { try predictions.save(to: URL(fileURLWithPath: probabilities)) }
        if records != nil {
            try RecordPrediction.write(predictions, labels: labels!, format: format, to: out ?? "-")
            return
        }
        let out = out ?? "result.csv"
        let rows = zip(predictions.ids, predictions.predictedClasses).map { (id: $0, categoryId: labels!.level2Ids[$1]) }
        try SubmissionWriter.write(rows, to: URL(fileURLWithPath: out))
        let seconds = Date().timeIntervalSince(started)
        print(String(format: "wrote %@: %d videos, %d model(s), in %.1f s (%.0f videos/s)", out, rows.count, folders.count,
                     seconds, Double(rows.count) / max(seconds, 1e-9)))
    }
}

/// Model folders named on the command line, a K-fold run standing for its fold models.
enum ModelList {
    static func expand(_ paths: [String]) throws -> [URL] {
        guard !paths.isEmpty else { throw ValidationError("give at least one --model") }
        return try paths.flatMap { path -> [URL] in
            let url = URL(fileURLWithPath: path)
            return try KFoldManifest.members(of: url) ?? [url]
        }
    }
}
