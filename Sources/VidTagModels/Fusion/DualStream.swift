import Torch

// The dual-stream model (ALBEF, Li et al. 2021; LXMERT's one-way variant): text and frames are encoded
// apart, then fusion layers let the text attend to the frames. Read top to bottom: cross-attention →
// fusion layer → the classifier (text tower, video tower, fusion, heads).
//
// The fusion layer is Hugging Face's `BertLayer` built with `add_cross_attention` (ALBEF's `xbert`):
// self-attention over the text, cross-attention from the text to the video, feed-forward; its keys are
// that layer's (`attention.*`, `crossattention.*`, `intermediate.dense.*`, `output.*`).

/// Attention whose queries come from one sequence and keys and values from another, then dense, dropout
/// and LayerNorm around the residual (`BertAttention` as a cross-attention: keys `self.query`, `self.key`,
/// `self.value`, `output.dense`, `output.LayerNorm`).
public final class BertCrossAttention {
    public let attention: BertSelfAttention
    public let output: BertResidualOutput

    init(_ path: ParameterPath, config: BertConfig) {
        attention = BertSelfAttention(path("self"), config: config)
        output = BertResidualOutput(path("output"), inputSize: config.hiddenSize, config: config)
    }

    /// - hidden: the attending sequence `[B, T, H]`.
    /// - context: the attended sequence `[B, S, H]`.
    /// - mask: bool `[B, 1, 1, S]`, true where a context position may be attended to; nil for none padded.
    public func forward(_ hidden: Tensor, context: Tensor, mask: Tensor?, train: Bool) -> Tensor {
        output.forward(attention.forward(hidden, context: context, mask: mask, train: train), residual: hidden,
                       train: train)  // [B, T, H]
    }
}

/// ALBEF's fusion block: self-attention over the text, cross-attention from the text to the video, then
/// BERT's feed-forward block (`intermediate.dense` + activation, `output.dense` + dropout + residual
/// LayerNorm).
public final class FusionLayer {
    public let attention: BertAttention
    public let crossAttention: BertCrossAttention
    public let intermediate: Linear
    public let output: BertResidualOutput
    let activation: BertActivation

    init(_ path: ParameterPath, config: BertConfig) {
        attention = BertAttention(path("attention"), config: config)
        crossAttention = BertCrossAttention(path("crossattention"), config: config)
        intermediate = Linear(path("intermediate")("dense"), inputSize: config.hiddenSize,
                              outputSize: config.intermediateSize, initializer: .normal(std: config.initializerRange))
        output = BertResidualOutput(path("output"), inputSize: config.intermediateSize, config: config)
        activation = config.hiddenAct
    }

    /// - text: `[B, T, H]`; textMask: bool `[B, 1, 1, T]` or nil.
    /// - video: `[B, S, H]`; videoMask: bool `[B, 1, 1, S]` or nil.
    public func forward(_ text: Tensor, textMask: Tensor?, video: Tensor, videoMask: Tensor?, train: Bool) -> Tensor {
        let attended = attention.forward(text, mask: textMask, train: train)  // [B, T, H]
        let crossed = crossAttention.forward(attended, context: video, mask: videoMask, train: train)  // [B, T, H]
        return output.forward(activation(intermediate(crossed)), residual: crossed, train: train)
    }
}

/// The dual-stream classifier.
///
/// - Text tower: BERT over `[CLS] title [SEP] asr [SEP] ocr [SEP]` (`bert.*`, group `text`, pretrained or
///   from scratch, layer-wise learning rates as in the single-stream model).
/// - Video tower (group `visual`): a learned video token followed by the frames projected to BERT's width,
///   `LayerNorm(Linear(frames) + frame_position_embeddings)` with the token at position 0 and frame k at
///   k + 1, then `video_layers` BERT layers (`video_encoder.layer.N.*`). The token is never padding, so a
///   video without frames still has something to attend to, and it is the video tower's `[CLS]`.
/// - Fusion (group `fusion`): `fusion_layers` fusion layers (`fusion.layer.N.*`) over the text tower's
///   output, attending to the video tower's output.
/// - Heads (group `head`): the fused text pooled (`[CLS]` or masked mean over the text) into `classifier.*`;
///   the video tower pooled the same way (its token, or the masked mean over the token and real frames)
///   into the auxiliary `video_classifier.*`.
///
/// Padding (text or frames) is masked out of every attention and every pooling, and positions never
/// depend on the batch, so a video's logits are the same whatever its batch-mates' padding. Frames-only
/// keeps the text's `[CLS]` alone; text-only masks every frame (the fusion sees only the video token).
public final class DualStreamClassifier: FusionEncoder {
    public let store: ParameterStore
    public let config: FusionConfig
    public let bert: BertModel
    public let videoToken: Tensor
    public let videoProjection: Linear
    public let videoNorm: LayerNorm
    public let framePositions: Embedding
    public let videoEncoder: BertEncoder
    public let fusion: [FusionLayer]
    public let classifier: ClassifierHead
    public let videoClassifier: ClassifierHead?
    /// Raw frames go through it (end to end) when present; features are used as they are otherwise.
    public let frameEncoder: (any FrameEncoder)?

    /// The parameter group of the fusion layers (its own learning rate, `train.fusion_learning_rate`).
    public static let fusionGroup = "fusion"

    public init(store: ParameterStore, config: FusionConfig, frameEncoder: (any FrameEncoder)? = nil) {
        self.store = store
        self.config = config
        self.frameEncoder = frameEncoder
        let root = store.root
        let text = config.textConfig
        let hidden = text.hiddenSize
        let initializer = Initializer.normal(std: text.initializerRange)
        bert = BertModel(root("bert"), config: text, addPoolingLayer: false)

        let visual = root.inGroup("visual")
        videoToken = visual.parameter("video_token", shape: [hidden], initializer: initializer)
        videoProjection = Linear(visual("video_projection"), inputSize: config.featureSize, outputSize: hidden,
                                 initializer: initializer)
        videoNorm = LayerNorm(visual("video_norm"), size: hidden, eps: text.layerNormEps)
        framePositions = Embedding(visual("frame_position_embeddings"), count: config.maxFrames + 1, size: hidden,
                                   initializer: initializer)
        var videoConfig = text
        videoConfig.numHiddenLayers = config.videoLayers
        videoEncoder = BertEncoder(visual("video_encoder"), config: videoConfig)

        let fusionPath = root.inGroup(Self.fusionGroup)("fusion")("layer")
        fusion = (0..<config.fusionLayers).map { FusionLayer(fusionPath($0), config: text) }

        let head = root.inGroup("head")
        classifier = ClassifierHead(head("classifier"), inputSize: hidden, classes: config.classes,
                                    dropout: config.dropout, samples: config.headSamples)
        videoClassifier = config.videoHead && config.modalities != .text
            ? ClassifierHead(head("video_classifier"), inputSize: hidden, classes: config.classes, dropout: config.dropout)
            : nil
    }

    public func forward(_ input: VideoBatchInput, train: Bool) -> ClassifierOutput {
        let (encoded, video, videoMask) = encodeTowers(input, train: train)
        return ClassifierOutput(
            logits: classifier.forward(encoded.pooled, train: train),
            videoLogits: videoClassifier.map { $0.forward(pool(video, mask: videoMask), train: train) },
            pooled: encoded.pooled)
    }

    public func encode(_ input: VideoBatchInput, train: Bool) -> FusionEncoding {
        encodeTowers(input, train: train).encoding
    }

    /// The encoding, and the video tower's output `[B, 1 + F, H]` with its mask `[B, 1 + F]`.
    func encodeTowers(_ input: VideoBatchInput, train: Bool) -> (encoding: FusionEncoding, video: Tensor, videoMask: Tensor) {
        // Frames-only keeps the text's leading [CLS] and nothing else; text-only masks every frame.
        let textIds = config.modalities == .frames ? input.textIds.slice(dim: 1, end: 1) : input.textIds  // [B, T]
        let textMask = config.modalities == .frames ? input.textMask.slice(dim: 1, end: 1) : input.textMask
        let frameMask = config.modalities == .text
            ? Tensor.zeros(input.frameMask.shape, dtype: .int64, device: input.frameMask.device) : input.frameMask  // [B, F]

        let text = bert.forward(inputIds: textIds, attentionMask: textMask, train: train).lastHiddenState  // [B, T, H]
        let (video, videoMask) = encodeVideo(input.frames, frameMask: frameMask, train: train)  // [B, 1 + F, H], [B, 1 + F]

        let textAttention = Self.keyMask(textMask)
        let videoAttention = Self.keyMask(videoMask)
        var fused = text
        for layer in fusion {
            fused = layer.forward(fused, textMask: textAttention, video: video, videoMask: videoAttention, train: train)
        }
        let encoding = FusionEncoding(
            text: fused, frames: video.slice(dim: 1, start: 1),  // [B, T, H], [B, F, H]
            pooled: pool(fused, mask: textMask),  // [B, H]
            towers: (text: pool(text, mask: textMask), video: pool(video, mask: videoMask)))
        return (encoding, video, videoMask)
    }

    /// The video tower: `[video token, frames]` embedded and encoded, with its mask (the token is never
    /// padding).
    /// - frames: features `[B, F, D]` or pixels `[B, F, 3, H, W]` (through the frame encoder).
    func encodeVideo(_ frames: Tensor, frameMask: Tensor, train: Bool) -> (hidden: Tensor, mask: Tensor) {
        let vectors = frameVectors(frames, encoder: frameEncoder, train: train)  // [B, F, D]
        let batch = vectors.size(0)
        let count = vectors.size(1)
        let projected = videoProjection(vectors)  // [B, F, H]
        let token = videoToken.to(projected.dtype).view([1, 1, -1]).expand([batch, 1, projected.size(2)])  // [B, 1, H]
        let slots = framePositions(Tensor.arange(count + 1, device: vectors.device))  // [1 + F, H]
        let embedded = videoNorm(cat([token, projected], dim: 1) + slots).dropout(config.dropout, train: train)  // [B, 1 + F, H]
        let mask = cat([Tensor.ones([batch, 1], dtype: .int64, device: vectors.device), frameMask.to(.int64)], dim: 1)
        let hidden = videoEncoder.forward(embedded, mask: Self.keyMask(mask), train: train).lastHiddenState
        return (hidden, mask)
    }

    /// `[CLS]` (the first position) or the masked mean, as `pooling` says: `[B, S, H]` → `[B, H]`.
    func pool(_ hidden: Tensor, mask: Tensor) -> Tensor {
        config.pooling == .cls ? hidden.select(dim: 1, index: 0) : BertModel.meanPooled(hidden, attentionMask: mask)
    }

    /// The attention mask of keys `[B, S]` → bool `[B, 1, 1, S]`, nil when nothing is padding (attention
    /// then runs libtorch's fused kernel). Reads one value back to the host: the decision is the batch's.
    static func keyMask(_ mask: Tensor) -> Tensor? {
        mask.eq(0).any().item() == 0 ? nil : BertModel.attentionMask(mask)
    }
}
