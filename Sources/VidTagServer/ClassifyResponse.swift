import Foundation
import VidTagData

/// The answer of `POST /v1/classify`: per video, in request order, the top-k level-2 categories and
/// level-1 groups with probabilities (a level-1 probability is the sum over its level-2 classes).
struct ClassifyResponse: Encodable {
    struct ModelInfo: Encodable {
        var name: String
        var version: String
        var architecture: String
    }

    struct Category: Encodable {
        var categoryId: String
        var probability: Float
        enum CodingKeys: String, CodingKey { case categoryId = "category_id", probability }
    }

    struct Video: Encodable {
        var id: String
        var level2: [Category]
        var level1: [Category]
    }

    var model: ModelInfo
    var predictions: [Video]
    /// From the request's arrival to the answer, in milliseconds.
    var tookMs: Double
    enum CodingKeys: String, CodingKey { case model, predictions, tookMs = "took_ms" }

    init(model: ServedModel, ids: [String], probabilities: [[Float]], topK: Int, took: Duration) {
        self.model = ModelInfo(name: model.name, version: model.version, architecture: model.architecture)
        let labels = model.labels
        predictions = zip(ids, probabilities).map { id, row in
            var level1 = [Float](repeating: 0, count: labels.level1Count)
            for (index, probability) in row.enumerated() { level1[labels.level1IndexOfLevel2Index[index]] += probability }
            return Video(id: id, level2: Self.top(row, ids: labels.level2Ids, k: topK),
                         level1: Self.top(level1, ids: labels.level1Ids, k: topK))
        }
        let (seconds, attoseconds) = took.components
        tookMs = Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }

    /// The `k` most probable entries, most probable first (ties by class order).
    static func top(_ probabilities: [Float], ids: [String], k: Int) -> [Category] {
        probabilities.indices
            .sorted { probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }
            .prefix(k)
            .map { Category(categoryId: ids[$0], probability: probabilities[$0]) }
    }
}
