import ArgumentParser
import Dispatch
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// `vidtag predict --input FILE|-`: annotation records as JSON lines, without a data root, through the
/// same sample code as a split (``RecordPredictor``). Records carry text only; the model sees no frames.
enum RecordPrediction {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        /// One JSON object per video: id, category_id and its probability, level1_id and its probability.
        case jsonl
        /// `id,category_id` lines, no header (the submission format).
        case csv
    }

    /// The records of `input` (a path, or `-` for standard input).
    static func records(from input: String, labels: LabelSpace?) throws -> [VideoAnnotation] {
        let data = input == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: input))
        return try AnnotationLines(source: input == "-" ? "standard input" : input, labelSpace: labels).records(in: data)
    }

    /// One model's probabilities of `records`, `batchSize` videos per forward pass, samples prepared by
    /// `workers` threads.
    static func predict(_ records: [VideoAnnotation], model folder: URL, device: Device, dtype: DType?, batchSize: Int,
                        workers: Int) throws -> (Predictions, LabelSpace) {
        let predictor = try RecordPredictor(model: folder, device: device, dtype: dtype)
        var result = Predictions(classes: predictor.labels.level2Count)
        let builder = predictor.samples
        for start in stride(from: 0, to: records.count, by: max(batchSize, 1)) {
            let chunk = Array(records[start..<min(start + max(batchSize, 1), records.count)])
            let samples = SampleSlots(count: chunk.count)
            DispatchQueue.concurrentPerform(iterations: max(1, min(workers, chunk.count))) { worker in
                for index in stride(from: worker, to: chunk.count, by: max(1, min(workers, chunk.count))) {
                    samples.set(index, Result { try builder.sample(chunk[index], frames: .absent, position: start + index) })
                }
            }
            let batch = try predictor.predict(try samples.values())
            result.ids += batch.ids
            result.probabilities += batch.probabilities
            result.truth += chunk.map { record in Int32(record.categoryId.flatMap { predictor.labels.level2Index(of: $0) } ?? -1) }
        }
        return (result, predictor.labels)
    }

    /// Writes `predictions` as `format` to `out` (a path, or `-` for standard output).
    static func write(_ predictions: Predictions, labels: LabelSpace, format: Format, to out: String) throws {
        var text = ""
        for (row, id) in predictions.ids.enumerated() {
            let probabilities = predictions.probabilities[(row * predictions.classes)..<((row + 1) * predictions.classes)]
            let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
            let category = labels.level2Ids[best - row * predictions.classes]
            switch format {
            case .csv:
                text += "\(id),\(category)\n"
            case .jsonl:
                let group = labels.level1IndexOfLevel2Index[best - row * predictions.classes]
                let level1 = probabilities.indices.filter { labels.level1IndexOfLevel2Index[$0 - row * predictions.classes] == group }
                    .map { probabilities[$0] }.reduce(0, +)
                let object: [String: Any] = [
                    "id": id, "category_id": category, "probability": Double(probabilities[best]),
                    "level1_id": labels.level1Ids[group], "level1_probability": Double(level1),
                ]
                text += String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self) + "\n"
            }
        }
        if out == "-" {
            FileHandle.standardOutput.write(Data(text.utf8))
        } else {
            try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
        }
    }
}

/// Samples built by several threads, each into its own slot.
private final class SampleSlots: @unchecked Sendable {
    private var slots: [Result<Sample, any Error>?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<Sample, any Error>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    func values() throws -> [Sample] { try slots.map { try $0!.get() } }
}
