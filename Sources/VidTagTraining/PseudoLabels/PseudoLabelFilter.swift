/// Which pseudo-labelled videos are confident enough to train on. A video is kept when its top probability
/// is at least `threshold` **and** it is among the `top_share` most confident of the videos whose top class
/// is the same as its own (⌈share · n_c⌉ of the n_c videos predicted as class c, ties kept in row order).
/// Both tests rank by the same top probability, so their order does not matter. The share keeps the classes'
/// mix close to the teachers' instead of favouring the classes a teacher is surest of.
public struct PseudoLabelFilter: Codable, Sendable, Equatable {
    /// Lowest top probability kept (0: no threshold).
    public var threshold: Double
    /// Share of each predicted class kept, most confident first (1: all).
    public var topShare: Double

    public init(threshold: Double = 0, topShare: Double = 1) throws {
        guard (0...1).contains(threshold) else {
            throw ConfigError("--threshold \(threshold): expected a probability in [0, 1]")
        }
        guard topShare > 0, topShare <= 1 else {
            throw ConfigError("--top-share \(topShare): expected a share in (0, 1]")
        }
        self.threshold = threshold
        self.topShare = topShare
    }

    enum CodingKeys: String, CodingKey { case threshold, topShare = "top_share" }

    /// The rows kept, in row order, given each row's top probability and top class.
    public func keptRows(topProbabilities: [Float], topClasses: [Int32]) -> [Int] {
        precondition(topProbabilities.count == topClasses.count)
        var byClass: [Int32: [Int]] = [:]
        for (row, predicted) in topClasses.enumerated() { byClass[predicted, default: []].append(row) }
        var kept = [Bool](repeating: false, count: topClasses.count)
        for rows in byClass.values {
            let quota = Int((topShare * Double(rows.count) - 1e-9).rounded(.up))  // 0.3 · 10 is 3, not 3.0000000000000004
            // Stable: among equal probabilities the earlier row ranks first.
            let ranked = rows.enumerated().sorted {
                topProbabilities[$0.element] != topProbabilities[$1.element]
                    ? topProbabilities[$0.element] > topProbabilities[$1.element] : $0.offset < $1.offset
            }
            for (_, row) in ranked.prefix(quota) where Double(topProbabilities[row]) >= threshold { kept[row] = true }
        }
        return kept.indices.filter { kept[$0] }
    }
}
