import Torch

/// A batch as the fusion models take it (all tensors on the model's device).
public struct VideoBatchInput {
    /// `[B, T]` i64: `[CLS] title [SEP] asr [SEP] ocr [SEP]` then padding.
    public var textIds: Tensor
    /// `[B, T]` i64, 1 for tokens, 0 for padding.
    public var textMask: Tensor
    /// `[B, F, D]` frame feature vectors (f32), zero rows for padding.
    public var frames: Tensor
    /// `[B, F]` i64, 1 for real frames.
    public var frameMask: Tensor
    /// Whether `textMask` has any 0, known on the host from the batch's lengths: without padding, BERT runs
    /// unmasked attention (its fused kernel) and nothing is read back from the device to decide it.
    public var textPadded: Bool
    /// Whether `frameMask` has any 0 (a video with fewer frames than `F`), known on the host.
    public var framesPadded: Bool

    /// Without the padding flags, padding is assumed (the masks are applied: always correct, maybe slower).
    public init(textIds: Tensor, textMask: Tensor, frames: Tensor, frameMask: Tensor, textPadded: Bool = true,
                framesPadded: Bool = true) {
        self.textIds = textIds
        self.textMask = textMask
        self.frames = frames
        self.frameMask = frameMask
        self.textPadded = textPadded
        self.framesPadded = framesPadded
    }
}

/// What a classifier returns: the level-2 logits and, where the model has them, auxiliary logits.
public struct ClassifierOutput {
    /// `[B, classes]`.
    public var logits: Tensor
    /// `[B, classes]` from the visual branch alone (the auxiliary video head), when present.
    public var videoLogits: Tensor?
    /// The fused representation before the head `[B, H]` (for analysis and pretraining tasks).
    public var pooled: Tensor
}

/// Which inputs a model looks at; the same code serves the fused model and its ablations.
public enum Modalities: String, Codable, Sendable, CaseIterable {
    case both, text, frames
}

/// A video classifier over text and frame features. Parameters live in `store`, named as checkpoint keys,
/// in groups `text` (BERT), `visual` (frame side) and `head` (new layers).
public protocol VideoClassifier: AnyObject {
    var store: ParameterStore { get }
    /// The frame encoder raw frames go through (end-to-end models), nil for feature models.
    var frameEncoder: (any FrameEncoder)? { get }
    func forward(_ input: VideoBatchInput, train: Bool) -> ClassifierOutput
}

/// Dropout then a linear classifier, keys `NAME.weight` / `NAME.bias`. With `samples` > 1 it is a
/// multi-sample dropout head: while training, the logits are the mean over `samples` dropout masks.
public final class ClassifierHead {
    public let linear: Linear
    public let dropout: Double
    public let samples: Int

    public init(_ path: ParameterPath, inputSize: Int, classes: Int, dropout: Double, samples: Int = 1) {
        linear = Linear(path, inputSize: inputSize, outputSize: classes, initializer: .normal(std: 0.02))
        self.dropout = dropout
        self.samples = max(samples, 1)
    }

    public func forward(_ features: Tensor, train: Bool) -> Tensor {
        guard train, samples > 1 else { return linear(features.dropout(dropout, train: train)) }
        let logits = (0..<samples).map { _ in linear(features.dropout(dropout, train: true)) }
        return stack(logits, dim: 0).mean(dim: 0)
    }
}

/// Squeeze-and-excitation gate: x · sigmoid(W₂ relu(W₁ x)) (the challenge baseline's `SENet`; its keys
/// `sequeeze` and `excitation`, spelling included).
public final class SEGate {
    public let squeeze: Linear
    public let excitation: Linear

    public init(_ path: ParameterPath, channels: Int, reduction: Int) {
        squeeze = Linear(path("sequeeze"), inputSize: channels, outputSize: channels / reduction, bias: false)
        excitation = Linear(path("excitation"), inputSize: channels / reduction, outputSize: channels, bias: false)
    }

    public func forward(_ x: Tensor) -> Tensor {
        x * excitation(squeeze(x).relu()).sigmoid()
    }
}
