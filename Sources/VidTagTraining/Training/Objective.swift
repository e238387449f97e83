import Torch
import VidTagModels

/// The training loss: cross-entropy on the level-2 logits (class weights and label smoothing optional),
/// plus the auxiliary video head's cross-entropy with its own weight.
public struct Objective {
    /// `[classes]` weights on the model's device, nil for none.
    public var classWeights: Tensor?
    public var labelSmoothing: Double
    public var videoLossWeight: Double

    public init(classWeights: Tensor? = nil, labelSmoothing: Double = 0, videoLossWeight: Double = 0) {
        self.classWeights = classWeights
        self.labelSmoothing = labelSmoothing
        self.videoLossWeight = videoLossWeight
    }

    public func loss(_ output: ClassifierOutput, labels: Tensor) -> Tensor {
        let logits = output.logits.to(.float32)
        var loss = logits.crossEntropy(labels, weight: classWeights, labelSmoothing: labelSmoothing)
        if videoLossWeight > 0, let video = output.videoLogits {
            loss = loss + video.to(.float32).crossEntropy(labels, weight: classWeights, labelSmoothing: labelSmoothing)
                * videoLossWeight
        }
        return loss
    }
}
