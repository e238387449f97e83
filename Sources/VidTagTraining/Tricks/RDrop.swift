import Torch

/// R-Drop (Liang et al. 2021): the batch goes through the model twice, with different dropout masks, and
/// the loss adds `alpha` times the symmetric KL divergence between the two predicted distributions to the
/// mean of the two cross-entropies. The two passes draw different masks even under a fixed seed because
/// the generator advances between them.
public struct RDrop {
    public let alpha: Double

    public init(alpha: Double) { self.alpha = alpha }

    /// ½ (KL(p₁‖p₂) + KL(p₂‖p₁)) over the batch (mean over rows, sum over classes).
    public static func symmetricKL(_ logits1: Tensor, _ logits2: Tensor) -> Tensor {
        let log1 = logits1.to(.float32).logSoftmax(dim: -1)
        let log2 = logits2.to(.float32).logSoftmax(dim: -1)
        let forward = log2.klDiv(log1, reduction: .batchMean, logTarget: true)  // KL(p1 ‖ p2)
        let backward = log1.klDiv(log2, reduction: .batchMean, logTarget: true)  // KL(p2 ‖ p1)
        return (forward + backward) * 0.5
    }

    /// The R-Drop loss from two passes' outputs and their task losses.
    public func loss(task1: Tensor, task2: Tensor, logits1: Tensor, logits2: Tensor) -> Tensor {
        (task1 + task2) * 0.5 + Self.symmetricKL(logits1, logits2) * alpha
    }
}
