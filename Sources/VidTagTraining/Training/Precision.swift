import Torch

/// The numeric precision of training and evaluation (`train.precision`).
public enum Precision: String, Codable, Sendable, CaseIterable {
    /// Plain fp32.
    case fp32
    /// bf16 autocast (CPU and GPU); no loss scaling needed.
    case bf16
    /// fp16 autocast with dynamic loss scaling (GPU).
    case fp16

    /// The dtype autocast runs under, nil for fp32.
    public var autocastType: DType? {
        switch self {
        case .fp32: nil
        case .bf16: .bfloat16
        case .fp16: .float16
        }
    }

    /// Whether the loss is scaled (fp16 gradients underflow without it).
    public var scalesLoss: Bool { self == .fp16 }
}
