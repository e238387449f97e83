import Torch

/// The 2022 WeChat challenge's official baseline (`MultiModal`): BERT's pooled `[CLS]` of the text,
/// NeXtVLAD over the frames followed by an SE gate, both concatenated, then dropout, Linear → fusion size
/// and an SE gate (`ConcatDenseSE`), and a linear classifier. Keys as the baseline's checkpoints: `bert.*`,
/// `nextvlad.*`, `enhance.*`, `fusion.fusion.*`, `fusion.enhance.*`, `classifier.*`.
public final class BaselineClassifier: VideoClassifier {
    public let store: ParameterStore
    public let config: FusionConfig
    public let bert: BertModel?
    public let nextvlad: NeXtVLAD?
    public let enhance: SEGate?
    public let fusion: Linear
    public let fusionGate: SEGate
    public let classifier: ClassifierHead
    public let videoClassifier: ClassifierHead?
    /// Raw frames go through it (end to end) when present; features are used as they are otherwise.
    public let frameEncoder: (any FrameEncoder)?

    public init(store: ParameterStore, config: FusionConfig, frameEncoder: (any FrameEncoder)? = nil) {
        self.store = store
        self.config = config
        self.frameEncoder = frameEncoder
        let root = store.root
        let useText = config.modalities != .frames
        let useFrames = config.modalities != .text
        bert = useText ? BertModel(root("bert"), config: config.textConfig, addPoolingLayer: true) : nil
        let visual = root.inGroup("visual")
        nextvlad = useFrames
            ? NeXtVLAD(visual("nextvlad"), featureSize: config.featureSize, clusters: config.nextvladClusters,
                       outputSize: config.nextvladOutput, expansion: config.nextvladExpansion,
                       groups: config.nextvladGroups, dropout: config.dropout)
            : nil
        enhance = useFrames ? SEGate(visual("enhance"), channels: config.nextvladOutput, reduction: config.seReduction) : nil
        let head = root.inGroup("head")
        let fusedInput = (useText ? config.textConfig.hiddenSize : 0) + (useFrames ? config.nextvladOutput : 0)
        fusion = Linear(head("fusion")("fusion"), inputSize: fusedInput, outputSize: config.fusionSize)
        fusionGate = SEGate(head("fusion")("enhance"), channels: config.fusionSize, reduction: config.seReduction)
        classifier = ClassifierHead(head("classifier"), inputSize: config.fusionSize, classes: config.classes,
                                    dropout: 0, samples: config.headSamples)
        videoClassifier = useFrames && config.videoHead
            ? ClassifierHead(head("video_classifier"), inputSize: config.nextvladOutput, classes: config.classes,
                             dropout: config.dropout)
            : nil
    }

    public func forward(_ input: VideoBatchInput, train: Bool) -> ClassifierOutput {
        var parts: [Tensor] = []
        var video: Tensor?
        if let bert {
            let mask = input.textPadded ? input.textMask : nil
            parts.append(bert.forward(inputIds: input.textIds, attentionMask: mask, train: train).pooled!)  // [B, H]
        }
        if let nextvlad, let enhance {
            let vectors = frameVectors(input.frames, encoder: frameEncoder, train: train)  // [B, F, D]
            let vision = enhance.forward(nextvlad.forward(vectors, mask: input.frameMask, train: train))  // [B, V]
            video = vision
            parts.insert(vision, at: 0)  // the baseline concatenates [vision, text]
        }
        let fused = fusionGate.forward(fusion(cat(parts, dim: 1).dropout(config.dropout, train: train)))  // [B, fusion]
        return ClassifierOutput(
            logits: classifier.forward(fused, train: train),
            videoLogits: video.flatMap { v in videoClassifier?.forward(v, train: train) },
            pooled: fused)
    }
}
