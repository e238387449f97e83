import CTorch

/// How a loss is reduced over the batch.
public enum Reduction: Int32, Sendable {
    case none = 0
    case mean = 1
    case sum = 2
    /// Sum divided by the batch size (KL divergence's mathematically right mean).
    case batchMean = 3
}

/// Interpolation for `interpolate`.
public enum InterpolationMode: Int32, Sendable {
    case nearest = 0
    case bilinear = 1
    case bicubic = 2
}

// Neural-network functions, as torch.nn.functional.

extension Tensor {
    /// x · Wᵀ + b.
    public func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        withExtendedLifetime(bias) {
            produce("linear") { ct_linear(handle, weight.handle, bias?.handle, $0) }
        }
    }
    /// Rows of this `[count, size]` table at `ids` (any shape of i64), as torch.nn.functional.embedding.
    public func embeddingLookup(_ ids: Tensor, paddingIndex: Int? = nil) -> Tensor {
        produce("embedding") { ct_embedding(handle, ids.handle, Int64(paddingIndex ?? -1), $0) }
    }
    public func softmax(dim: Int) -> Tensor { produce("softmax") { ct_softmax(handle, Int64(dim), false, $0) } }
    public func logSoftmax(dim: Int) -> Tensor { produce("logSoftmax") { ct_softmax(handle, Int64(dim), true, $0) } }

    /// Layer normalisation over the trailing `shape` dimensions.
    public func layerNorm(_ shape: [Int], weight: Tensor?, bias: Tensor?, eps: Double = 1e-5) -> Tensor {
        withExtendedLifetime((weight, bias)) {
            withInt64s(shape) { dims, n in
                produce("layerNorm") { ct_layer_norm(handle, dims, n, weight?.handle, bias?.handle, eps, $0) }
            }
        }
    }
    /// Dropout with probability `p`; the identity unless `train`.
    public func dropout(_ p: Double, train: Bool) -> Tensor {
        guard train, p > 0 else { return self }
        return produce("dropout") { ct_dropout(handle, p, train, $0) }
    }
    /// 2-D convolution of an `[N, C, H, W]` input.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                       dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
        withExtendedLifetime(bias) {
            withInt64s([stride.0, stride.1]) { s, _ in
                withInt64s([padding.0, padding.1]) { p, _ in
                    withInt64s([dilation.0, dilation.1]) { d, _ in
                        produce("conv2d") { ct_conv2d(handle, weight.handle, bias?.handle, s, p, d, Int64(groups), $0) }
                    }
                }
            }
        }
    }
    public func avgPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
        pool(0, kernel, stride ?? kernel, padding, "avgPool2d")
    }
    public func maxPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
        pool(1, kernel, stride ?? kernel, padding, "maxPool2d")
    }
    private func pool(_ kind: Int32, _ kernel: (Int, Int), _ stride: (Int, Int), _ padding: (Int, Int),
                      _ name: StaticString) -> Tensor {
        withInt64s([kernel.0, kernel.1]) { k, _ in
            withInt64s([stride.0, stride.1]) { s, _ in
                withInt64s([padding.0, padding.1]) { p, _ in produce(name) { ct_pool2d(kind, handle, k, s, p, $0) } }
            }
        }
    }
    public func adaptiveAvgPool2d(_ size: (Int, Int)) -> Tensor {
        withInt64s([size.0, size.1]) { s, _ in produce("adaptiveAvgPool2d") { ct_adaptive_avg_pool2d(handle, s, $0) } }
    }
    /// Resizes an `[N, C, H, W]` tensor to `size` (height, width).
    public func interpolate(size: (Int, Int), mode: InterpolationMode = .bilinear, alignCorners: Bool = false,
                            antialias: Bool = false) -> Tensor {
        withInt64s([size.0, size.1]) { s, _ in
            produce("interpolate") { ct_interpolate(handle, s, mode.rawValue, alignCorners, antialias, $0) }
        }
    }

    /// x / max(‖x‖ₚ, eps) along `dim`, as torch.nn.functional.normalize.
    public func normalized(p: Double = 2, dim: Int = -1, eps: Double = 1e-12) -> Tensor {
        self / norm(p, dims: [dim], keepDim: true).clamp(min: eps)
    }
    public func cosineSimilarity(_ other: Tensor, dim: Int = 1, eps: Double = 1e-8) -> Tensor {
        produce("cosineSimilarity") { ct_cosine_similarity(handle, other.handle, Int64(dim), eps, $0) }
    }

    // MARK: Losses

    /// Cross-entropy of logits `[N, C]` against class indices `[N]` (i64) or class probabilities `[N, C]`.
    public func crossEntropy(_ target: Tensor, weight: Tensor? = nil, reduction: Reduction = .mean,
                             ignoreIndex: Int = -100, labelSmoothing: Double = 0) -> Tensor {
        withExtendedLifetime(weight) {
            reduced(reduction) { code in
                produce("crossEntropy") {
                    ct_cross_entropy(handle, target.handle, weight?.handle, code, Int64(ignoreIndex), labelSmoothing, $0)
                }
            }
        }
    }
    /// KL(target ‖ input) with `self` = log-probabilities, as torch.nn.functional.kl_div.
    public func klDiv(_ target: Tensor, reduction: Reduction = .batchMean, logTarget: Bool = false) -> Tensor {
        produce("klDiv") { ct_kl_div(handle, target.handle, reduction.rawValue, logTarget, $0) }
    }
    public func mseLoss(_ target: Tensor, reduction: Reduction = .mean) -> Tensor {
        reduced(reduction) { code in produce("mseLoss") { ct_mse_loss(handle, target.handle, code, $0) } }
    }
    public func binaryCrossEntropyWithLogits(_ target: Tensor, reduction: Reduction = .mean) -> Tensor {
        reduced(reduction) { code in produce("bceWithLogits") { ct_bce_with_logits(handle, target.handle, code, $0) } }
    }

    /// libtorch's losses other than kl_div know only none / mean / sum: `.batchMean` is their sum divided
    /// by the batch size (dimension 0).
    private func reduced(_ reduction: Reduction, _ loss: (Int32) -> Tensor) -> Tensor {
        guard reduction == .batchMean else { return loss(reduction.rawValue) }
        return loss(Reduction.sum.rawValue) / Double(Swift.max(size(0), 1))
    }
}

/// softmax(q kᵀ · scale + mask) v over `[B, heads, T, D]` tensors, by libtorch's fused kernels.
/// A bool `mask` marks positions that may be attended to; a float mask is added to the scores.
public func scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, mask: Tensor? = nil,
                                      dropout: Double = 0, isCausal: Bool = false, scale: Double? = nil) -> Tensor {
    withExtendedLifetime(mask) {
        produce("scaledDotProductAttention") {
            ct_scaled_dot_product_attention(query.handle, key.handle, value.handle, mask?.handle, dropout, isCausal,
                                            scale ?? 0, $0)
        }
    }
}

