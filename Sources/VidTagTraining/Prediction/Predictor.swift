import Foundation
import Torch
import VidTagData
import VidTagModels

/// Class probabilities of a model over batches, in batch order.
public struct Predictions: Sendable {
    public var ids: [String]
    /// Row-major `[N, classes]` probabilities.
    public var probabilities: [Float]
    public var classes: Int
    /// The true level-2 class per video, -1 when unknown (unlabelled splits).
    public var truth: [Int32]

    public init(ids: [String] = [], probabilities: [Float] = [], classes: Int, truth: [Int32] = []) {
        self.ids = ids
        self.probabilities = probabilities
        self.classes = classes
        self.truth = truth
    }

    public var count: Int { ids.count }

    /// The most probable class per video.
    public var predictedClasses: [Int] {
        (0..<count).map { row in
            let slice = probabilities[(row * classes)..<((row + 1) * classes)]
            return slice.indices.max { slice[$0] < slice[$1] }! - row * classes
        }
    }

    /// The challenge score against the truth (every video must have one).
    public func score(labelSpace: LabelSpace) throws -> ChallengeScore {
        try ChallengeScore.compute(truthIndices: truth.map(Int.init), predictedIndices: predictedClasses,
                                   labelSpace: labelSpace)
    }
}

public enum Predictor {
    /// Runs `model` in eval mode without gradients over `batches`.
    /// - dtype: computes under autocast in bf16 / fp16 when given (weights stay as they are).
    public static func predict(model: VideoClassifier, batches: BatchStream, device: Device,
                               classes: Int, autocast: DType? = nil) throws -> Predictions {
        try predict(models: [model], batches: batches, device: device, classes: classes, autocast: autocast)[0]
    }

    /// Runs every model of `models` on each batch of one pass over `batches` (each batch read and moved to
    /// the device once): the models must take the same inputs (one data recipe).
    public static func predict(models: [VideoClassifier], batches: BatchStream, device: Device,
                               classes: Int, autocast: DType? = nil) throws -> [Predictions] {
        var results = [Predictions](repeating: Predictions(classes: classes), count: models.count)
        try Torch.catching {
            try withNoGrad {
                while let batch = try batches.next() {
                    let input = batch.input(on: device)
                    for (index, model) in models.enumerated() {
                        results[index].probabilities += probabilities(model: model, input: input, device: device, autocast: autocast)
                        results[index].ids += batch.ids
                        results[index].truth += batch.labels
                    }
                    if Task.isCancelled { throw CancellationError() }
                }
            }
        }
        return results
    }

    /// `[B, classes]` row-major probabilities of one batch; call under `withNoGrad` inside `Torch.catching`.
    static func probabilities(model: VideoClassifier, batch: Batch, device: Device, autocast: DType?) -> [Float] {
        probabilities(model: model, input: batch.input(on: device), device: device, autocast: autocast)
    }

    static func probabilities(model: VideoClassifier, input: VideoBatchInput, device: Device, autocast: DType?) -> [Float] {
        let logits = withAutocast(device, dtype: autocast ?? .bfloat16, enabled: autocast != nil) {
            model.forward(input, train: false).logits
        }
        return logits.to(.float32).softmax(dim: -1).toArray(Float.self)
    }
}
