import VidTagData

/// Ensemble weights tuned on held-out predictions by coordinate ascent on the challenge score: starting
/// from equal weights, each member's weight in turn is moved to the value of a grid (the others rescaled
/// to keep the sum 1) that scores best, until a round changes nothing. A weight moves only for a gain of
/// at least `minimumGain`, so that noise does not pull the weights away from equal.
///
/// Tuned on out-of-fold predictions, the tuned score is optimistic: it selected the weights. Report the
/// ensemble on data that took no part (test_a against its truth).
public struct EnsembleWeights: Codable, Sendable, Equatable {
    /// One weight per member, summing to 1.
    public var weights: [Double]
    public var scoreBefore: Double
    public var scoreAfter: Double

    enum CodingKeys: String, CodingKey { case weights, scoreBefore = "score_before", scoreAfter = "score_after" }

    public static func tune(
        _ members: [Predictions], labels: LabelSpace, averaging: Ensemble.Averaging = .probabilities,
        gridSteps: Int = 20, minimumGain: Double = 1e-4, maximumRounds: Int = 10
    ) throws -> EnsembleWeights {
        guard members.count > 1 else { throw ConfigError("tuning ensemble weights needs at least two models") }
        guard !members[0].truth.contains(-1) else {
            throw ConfigError("the held-out predictions have videos without a label: weights are tuned on labelled videos")
        }
        func score(_ weights: [Double]) throws -> Double {
            try Ensemble.combine(members, weights: weights, averaging: averaging).score(labelSpace: labels).mean
        }
        var weights = [Double](repeating: 1 / Double(members.count), count: members.count)
        let before = try score(weights)
        var best = before
        for _ in 0..<maximumRounds {
            var moved = false
            for member in members.indices {
                for step in 0...gridSteps {
                    let candidate = Self.setting(weights, member, to: Double(step) / Double(gridSteps))
                    guard candidate.reduce(0, +) > 0 else { continue }
                    let value = try score(candidate)
                    if value >= best + minimumGain {
                        best = value
                        weights = candidate
                        moved = true
                    }
                }
            }
            if !moved { break }
        }
        return EnsembleWeights(weights: weights, scoreBefore: before, scoreAfter: best)
    }

    /// `weights` with `member`'s weight set to `value` and the others scaled to share `1 - value` as before
    /// (equally when they were all 0).
    static func setting(_ weights: [Double], _ member: Int, to value: Double) -> [Double] {
        let others = weights.indices.filter { $0 != member }
        let rest = others.reduce(0) { $0 + weights[$1] }
        var result = weights
        result[member] = value
        for index in others {
            result[index] = rest > 0 ? weights[index] / rest * (1 - value) : (1 - value) / Double(others.count)
        }
        return result
    }
}
