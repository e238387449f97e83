import Torch

/// The single-stream model (VisualBERT / the WeChat top teams' "UniBERT"): frame vectors are projected to
/// BERT's width (Linear + LayerNorm) with their own position embeddings, and one BERT reads
/// `[CLS] text [SEP] frames [SEP]` under the joint mask (frames have token type 1). The output is pooled
/// (`[CLS]` or masked mean) and classified.
///
/// Positions do not depend on the batch: text tokens take BERT positions `0 ..< T`, frame k position
/// `text_positions + k` and the closing `[SEP]` the one after the last frame slot, so a video's logits are
/// the same whatever its batch-mates' text lengths (padding is masked out of attention and pooling).
///
/// Keys: `bert.*` (group text), `video_projection.*`, `video_norm.*`, `frame_position_embeddings.weight`
/// (group visual), `classifier.*`, `video_classifier.*` (group head).
public final class SingleStreamClassifier: FusionEncoder {
    public let store: ParameterStore
    public let config: FusionConfig
    public let bert: BertModel
    public let videoProjection: Linear
    public let videoNorm: LayerNorm
    public let framePositions: Embedding
    public let classifier: ClassifierHead
    public let videoClassifier: ClassifierHead?
    /// Raw frames go through it (end to end) when present; features are used as they are otherwise.
    public let frameEncoder: (any FrameEncoder)?

    public init(store: ParameterStore, config: FusionConfig, frameEncoder: (any FrameEncoder)? = nil) {
        self.store = store
        self.config = config
        self.frameEncoder = frameEncoder
        let root = store.root
        let hidden = config.textConfig.hiddenSize
        let initializer = Initializer.normal(std: config.textConfig.initializerRange)
        bert = BertModel(root("bert"), config: config.textConfig, addPoolingLayer: false)
        let visual = root.inGroup("visual")
        videoProjection = Linear(visual("video_projection"), inputSize: config.featureSize, outputSize: hidden,
                                 initializer: initializer)
        videoNorm = LayerNorm(visual("video_norm"), size: hidden, eps: config.textConfig.layerNormEps)
        framePositions = Embedding(visual("frame_position_embeddings"), count: config.maxFrames, size: hidden,
                                   initializer: initializer)
        let head = root.inGroup("head")
        classifier = ClassifierHead(head("classifier"), inputSize: hidden, classes: config.classes,
                                    dropout: config.dropout, samples: config.headSamples)
        videoClassifier = config.videoHead && config.modalities != .text
            ? ClassifierHead(head("video_classifier"), inputSize: hidden, classes: config.classes, dropout: config.dropout)
            : nil
    }

    public func forward(_ input: VideoBatchInput, train: Bool) -> ClassifierOutput {
        let (encoded, frames) = encodeSequence(input, train: train)
        return ClassifierOutput(
            logits: classifier.forward(encoded.pooled, train: train),
            videoLogits: videoClassifier.map { $0.forward(Self.maskedMean(frames!, mask: input.frameMask), train: train) },
            pooled: encoded.pooled)
    }

    public func encode(_ input: VideoBatchInput, train: Bool) -> FusionEncoding {
        encodeSequence(input, train: train).encoding
    }

    /// The encoding, and the frames as they enter BERT `[B, F, H]` (the auxiliary video head's input; nil
    /// for text only).
    func encodeSequence(_ input: VideoBatchInput, train: Bool) -> (encoding: FusionEncoding, frames: Tensor?) {
        let batch = input.textIds.size(0)
        let device = input.textIds.device
        // Frames-only keeps the text's leading [CLS] and nothing else.
        let textIds = config.modalities == .frames ? input.textIds.slice(dim: 1, end: 1) : input.textIds  // [B, T]
        let textMask = config.modalities == .frames ? input.textMask.slice(dim: 1, end: 1) : input.textMask
        let textLength = textIds.size(1)
        let textEmbeddings = bert.embeddings.wordEmbeddings(textIds)  // [B, T, H]

        var pieces = [textEmbeddings]
        var masks = [textMask]
        var types = [Tensor.zeros([batch, textLength], dtype: .int64, device: device)]
        var positions = [Tensor.arange(textLength, device: device)]
        var projectedFrames: Tensor?
        var frameCount = 0
        if config.modalities != .text {
            frameCount = input.frames.size(1)
            let frameSlots = framePositions(Tensor.arange(frameCount, device: device))  // [F, H]
            let vectors = frameVectors(input.frames, encoder: frameEncoder, train: train)  // [B, F, D]
            let frames = videoNorm(videoProjection(vectors) + frameSlots)  // [B, F, H]
            let separator = bert.embeddings.wordEmbeddings(
                Tensor.full([batch, 1], Double(config.separatorTokenId), dtype: .int64, device: device))  // [B, 1, H]
            pieces += [frames, separator]
            masks += [input.frameMask, Tensor.ones([batch, 1], dtype: .int64, device: device)]
            types.append(Tensor.ones([batch, frameCount + 1], dtype: .int64, device: device))
            positions.append(Tensor.arange(frameCount + 1, device: device) + config.textPositions)
            projectedFrames = frames
        }
        let embeddings = cat(pieces, dim: 1)  // [B, T + F + 1, H]
        let mask = cat(masks, dim: 1)  // [B, T + F + 1]
        // Frames-only keeps only [CLS] of the text, which is never padding.
        let padded = (config.modalities != .frames && input.textPadded) || (config.modalities != .text && input.framesPadded)
        let hidden = bert.forward(inputsEmbeds: embeddings, attentionMask: padded ? mask : nil, tokenTypeIds: cat(types, dim: 1),
                                  positionIds: cat(positions, dim: 0), train: train).lastHiddenState  // [B, T + F + 1, H]
        let pooled = config.pooling == .cls ? hidden.select(dim: 1, index: 0) : Self.maskedMean(hidden, mask: mask)
        let encoding = FusionEncoding(
            text: hidden.slice(dim: 1, end: textLength),  // [B, T, H]
            frames: projectedFrames == nil ? nil : hidden.slice(dim: 1, start: textLength, end: textLength + frameCount),  // [B, F, H]
            pooled: pooled)
        return (encoding, projectedFrames)
    }

    /// Mean of `hidden` `[B, T, H]` over positions where `mask` `[B, T]` is non-zero → `[B, H]`.
    static func maskedMean(_ hidden: Tensor, mask: Tensor) -> Tensor {
        BertModel.meanPooled(hidden, attentionMask: mask)
    }
}
