import Torch
import VidTagData
import VidTagModels

/// Moving a loader's batch (host buffers) to tensors on the training device, in one place.
extension Batch {
    /// The model input on `device`; host-to-GPU copies go through pinned memory without blocking.
    public func input(on device: Device) -> VideoBatchInput {
        func place(_ tensor: Tensor) -> Tensor {
            device == .cpu ? tensor : tensor.pinned().to(device, nonBlocking: true)
        }
        return VideoBatchInput(
            textIds: place(Tensor(text.ids, shape: text.shape).to(.int64)),
            textMask: place(Tensor(text.attentionMask, shape: text.shape).to(.int64)),
            frames: place(Tensor(frames, shape: framesShape)),
            frameMask: place(Tensor(frameMask, shape: Array(framesShape.prefix(2))).to(.int64)),
            textPadded: text.attentionMask.contains(0), framesPadded: frameMask.contains(0))
    }

    /// `[B]` i64 class indices on `device`.
    public func labelTensor(on device: Device) -> Tensor {
        Tensor(labels, shape: [labels.count]).to(.int64).to(device)
    }
}
