import Foundation
import Torch
import VidTagData
import VidTagModels

/// A saved model predicting videos held in memory (annotation records with their frames) rather than a
/// data root's split: the samples come from ``RecordSampleBuilder`` with the model's own data settings,
/// batches are collated by `Batch(collating:)` and run by ``Predictor``, so that a video gets the same
/// probabilities as through ``ModelRunner`` (to rounding; a batch's padding differs).
///
/// Not safe to share between threads: keep it inside one actor or one thread. Its ``samples`` builder
/// is `Sendable` and may prepare samples anywhere.
public final class RecordPredictor {
    public let loaded: LoadedModel
    public let device: Device
    /// Builds samples as this model wants them (text budgets, frame count, features or pixels).
    public let samples: RecordSampleBuilder
    /// Inference precision: nil computes in fp32; bf16 / fp16 compute under autocast (the weights stay fp32,
    /// so that inputs and weights always agree).
    public let dtype: DType?

    public init(model folder: URL, device: Device, dtype: DType? = nil) throws {
        let runner = try ModelRunner(model: folder, device: device)
        loaded = runner.loaded
        self.device = device
        self.dtype = dtype
        let tokenizer = try BertTokenizer(directory: loaded.folder.url.path)
        samples = try RecordSampleBuilder(tokenizer: tokenizer, budgets: loaded.data.budgets, maxFrames: loaded.data.maxFrames,
                                          frameSource: try runner.frameSource())
    }

    /// The level-2 labels, in class order.
    public var labels: LabelSpace { loaded.labels }

    /// `[samples.count, classes]` probabilities, one forward pass for all of `batch`.
    public func predict(_ batch: [Sample]) throws -> Predictions {
        let collated = try Batch(collating: batch, paddingID: samples.paddingID)
        var result = Predictions(ids: collated.ids, classes: loaded.labels.level2Count, truth: collated.labels)
        try Torch.catching {
            withNoGrad {
                result.probabilities = Predictor.probabilities(model: loaded.model, batch: collated, device: device,
                                                               autocast: dtype)
            }
        }
        return result
    }
}
