import Foundation
import Torch
import VidTagData

/// Several models' predictions of the same videos combined into one (the K-fold ensemble).
public enum Ensemble {
    public enum Averaging: String, Sendable, CaseIterable {
        /// Weighted mean of the probabilities.
        case probabilities
        /// Weighted mean of the log-probabilities (logits up to a per-row constant), then softmax.
        case logits
    }

    /// Combines `members` (same ids in the same order) with `weights` (equal when nil).
    public static func combine(_ members: [Predictions], weights: [Double]? = nil, averaging: Averaging = .probabilities)
        throws -> Predictions
    {
        guard let first = members.first else { throw ConfigError("an ensemble needs at least one model") }
        let weights = weights ?? [Double](repeating: 1, count: members.count)
        guard weights.count == members.count, weights.allSatisfy({ $0 >= 0 }), weights.reduce(0, +) > 0 else {
            throw ConfigError("ensemble weights \(weights): need one non-negative weight per model (\(members.count)), not all 0")
        }
        for (index, member) in members.enumerated() where member.ids != first.ids || member.classes != first.classes {
            throw ConfigError("ensemble member \(index + 1) predicted other videos or classes than the first")
        }
        let total = weights.reduce(0, +)
        var combined = [Double](repeating: 0, count: first.probabilities.count)
        for (member, weight) in zip(members, weights) {
            for (i, p) in member.probabilities.enumerated() {
                combined[i] += weight / total * (averaging == .logits ? Foundation.log(max(Double(p), 1e-30)) : Double(p))
            }
        }
        var result = first
        switch averaging {
        case .probabilities:
            result.probabilities = combined.map(Float.init)
        case .logits:
            result.probabilities = Self.softmaxRows(combined, classes: first.classes).map(Float.init)
        }
        return result
    }

    static func softmaxRows(_ values: [Double], classes: Int) -> [Double] {
        var out = values
        for row in 0..<(values.count / classes) {
            let slice = values[(row * classes)..<((row + 1) * classes)]
            let peak = slice.max() ?? 0
            let exps = slice.map { Foundation.exp($0 - peak) }
            let sum = exps.reduce(0, +)
            for (k, e) in exps.enumerated() { out[row * classes + k] = e / sum }
        }
        return out
    }
}

/// Prediction-time boost of small classes: p_c ← p_c · (n_c / n_max)^(−beta), renormalised. beta is tuned
/// on out-of-fold predictions (never on test); beta 0 changes nothing.
public struct SmallClassBoost: Codable, Sendable, Equatable {
    public var beta: Double
    public var counts: [Int]
    /// The out-of-fold score before and after, as tuned.
    public var scoreBefore: Double?
    public var scoreAfter: Double?

    public init(beta: Double, counts: [Int], scoreBefore: Double? = nil, scoreAfter: Double? = nil) {
        self.beta = beta
        self.counts = counts
        self.scoreBefore = scoreBefore
        self.scoreAfter = scoreAfter
    }

    enum CodingKeys: String, CodingKey {
        case beta, counts, scoreBefore = "score_before", scoreAfter = "score_after"
    }

    /// The per-class factors (n_c / n_max)^(−beta); a class without samples keeps factor 1.
    public var factors: [Double] {
        let largest = Double(counts.max() ?? 1)
        return counts.map { $0 > 0 ? pow(Double($0) / largest, -beta) : 1 }
    }

    public func apply(to predictions: Predictions) -> Predictions {
        var result = predictions
        let factors = self.factors
        let classes = predictions.classes
        for row in 0..<predictions.count {
            var sum = 0.0
            for k in 0..<classes { sum += Double(predictions.probabilities[row * classes + k]) * factors[k] }
            for k in 0..<classes {
                result.probabilities[row * classes + k] = Float(Double(predictions.probabilities[row * classes + k]) * factors[k] / sum)
            }
        }
        return result
    }

    /// The beta in `grid` that maximises the challenge score of the boosted out-of-fold predictions.
    public static func tune(outOfFold: Predictions, counts: [Int], labelSpace: LabelSpace,
                            grid: [Double] = stride(from: 0.0, through: 1.0, by: 0.05).map { $0 }) throws -> SmallClassBoost {
        let before = try outOfFold.score(labelSpace: labelSpace).mean
        var best = SmallClassBoost(beta: 0, counts: counts, scoreBefore: before, scoreAfter: before)
        for beta in grid where beta > 0 {
            let candidate = SmallClassBoost(beta: beta, counts: counts)
            let score = try candidate.apply(to: outOfFold).score(labelSpace: labelSpace).mean
            if score > best.scoreAfter! + 1e-12 {
                best = SmallClassBoost(beta: beta, counts: counts, scoreBefore: before, scoreAfter: score)
            }
        }
        return best
    }
}

extension Predictions {
    /// Saves ids, truth and probabilities (`NAME.safetensors` + ids in its metadata) for ensembling later.
    /// The truth is stored under the tensor name `labels`.
    public func save(to url: URL) throws {
        let encoder = JSONEncoder()
        let ids = String(decoding: try encoder.encode(self.ids), as: UTF8.self)
        try SafeTensors.save(
            ["probabilities": Tensor(probabilities, shape: [count, classes]), "labels": Tensor(truth, shape: [count])],
            metadata: ["ids": ids], to: url)
    }

    public static func load(_ url: URL) throws -> Predictions {
        let file = try SafeTensorsFile(contentsOf: url)
        guard let idsText = file.metadata["ids"],
              let ids = try? JSONDecoder().decode([String].self, from: Data(idsText.utf8)) else {
            throw ConfigError("\(url.path): no video ids in its metadata; not a vidtag predictions file")
        }
        let probabilities = try file.tensor("probabilities")
        return Predictions(ids: ids, probabilities: probabilities.toArray(Float.self), classes: probabilities.size(1),
                           truth: try file.tensor("labels").toArray(Int32.self))
    }
}
