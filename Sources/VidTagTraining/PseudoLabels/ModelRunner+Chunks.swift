import Foundation
import Torch
import VidTagData

extension ModelRunner {
    /// A split read once with a model's data settings, to predict chunk by chunk.
    public struct SplitReader {
        public let index: VideoIndex
        let builder: SampleBuilder
    }

    /// Reads `split`'s index (the model's vocabulary and budgets) and opens its frames.
    public func splitReader(data: DataRoot, split: String) throws -> SplitReader {
        let tokenizer = try BertTokenizer(directory: loaded.folder.url.path)
        let index = try VideoIndex(dataRoot: data, split: split, tokenizer: tokenizer, budgets: loaded.data.budgets,
                                   labelSpace: loaded.labels, badRecords: .skip)
        let builder = try SampleBuilder(dataRoot: data, split: split, index: index, maxFrames: loaded.data.maxFrames,
                                        frameSource: try frameSource(), mode: .evaluate)
        return SplitReader(index: index, builder: builder)
    }

    /// Probabilities of the videos at `positions` of a split read by ``splitReader(data:split:)``, in that order.
    public func predict(_ reader: SplitReader, positions: [Int], dtype: DType? = nil) throws -> Predictions {
        let loader = try DataLoader(builder: reader.builder,
                                    settings: LoaderSettings(batchSize: batchSize, shuffle: false, workers: workers),
                                    positions: positions)
        return try Predictor.predict(model: loaded.model, batches: loader.batches(epoch: 0), device: device,
                                     classes: loaded.labels.level2Count, autocast: dtype)
    }
}
