import Foundation

/// Per-class loss weights for the long tail. Inverse frequency is too extreme for the WeChat data; the top
/// teams used a tempered weight: `count^-alpha` (alpha 0.3–0.5), or an exponential rescaling of it. The
/// weights are normalised so that their mean over the training samples is 1 (the loss keeps its scale).
public enum ClassWeighting: Sendable, Equatable {
    case none
    /// w_c ∝ n_c^-alpha.
    case power(alpha: Double)
    /// w_c ∝ exp(alpha · (1 − n_c / max n)): between 1 for the largest class and e^alpha for the smallest.
    case exponential(alpha: Double)

    /// The weighting families, as a setting (`tricks.class_weighting`).
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case none, power, exponential
    }

    public init(_ kind: Kind, alpha: Double) {
        switch kind {
        case .none: self = .none
        case .power: self = .power(alpha: alpha)
        case .exponential: self = .exponential(alpha: alpha)
        }
    }

    /// Weights for classes with `counts` training samples each (a class with none gets weight 0).
    public func weights(counts: [Int]) -> [Double]? {
        let largest = Double(counts.max() ?? 0)
        let raw: [Double]
        switch self {
        case .none:
            return nil
        case .power(let alpha):
            raw = counts.map { $0 > 0 ? pow(Double($0), -alpha) : 0 }
        case .exponential(let alpha):
            raw = counts.map { $0 > 0 ? exp(alpha * (1 - Double($0) / largest)) : 0 }
        }
        let samples = Double(counts.reduce(0, +))
        let weightedMean = zip(raw, counts).map { $0 * Double($1) }.reduce(0, +) / max(samples, 1)
        return raw.map { weightedMean > 0 ? $0 / weightedMean : 0 }
    }
}
