import Torch
import VidTagData

/// One batch's loss: the total that is backpropagated, and named parts (0-d, on the device) that the
/// metrics log records beside it (`mlm_loss`, …).
public struct BatchLoss {
    public var total: Tensor
    public var parts: [String: Tensor]

    public init(total: Tensor, parts: [String: Tensor] = [:]) {
        self.total = total
        self.parts = parts
    }
}

/// What a trainer optimises when it is not the classification objective (self-supervised pretraining):
/// the trainer's loop, checkpoints, resume, logging and tricks stay the same, only the per-batch loss is
/// this task's.
public protocol TrainingTask: AnyObject {
    /// Prepares `batch` on `device` (host-side choices fixed by the batch's epoch and index) and returns its
    /// forward pass and loss, which the trainer runs under its autocast and adversarial passes run again.
    func lossFunction(for batch: Batch, device: Device) -> () -> BatchLoss
}
