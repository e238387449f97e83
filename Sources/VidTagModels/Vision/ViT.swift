import Foundation
import Torch

// The Vision Transformer (Dosovitskiy et al. 2021) as Hugging Face transformers' `modeling_vit.py` computes it,
// read bottom-up: patch embeddings → self-attention → pre-LN layer → encoder → model. Module paths are the
// checkpoint keys `save_pretrained` writes (`encoder.layer.0.attention.attention.query.weight`); the renaming
// of task-model checkpoints lives in `ViTCheckpointKeys`. Initialisation follows `ViTPreTrainedModel
// ._init_weights`: Linear and Conv2d weights, the position embeddings and the [CLS] token from
// trunc_normal(0, initializer_range) — torch truncates at ±2 absolute, i.e. ±100σ for 0.02, so a plain normal
// draws the same distribution — biases zero, LayerNorm ones and zeros.

/// [CLS] token, patch embeddings (a conv with kernel = stride = patch) and learned position embeddings
/// (`ViTEmbeddings`, keys `embeddings.cls_token` [1, 1, H], `embeddings.position_embeddings` [1, P + 1, H],
/// `embeddings.patch_embeddings.projection.*`).
public final class ViTEmbeddings {
    public let clsToken: Tensor
    public let positionEmbeddings: Tensor
    public let projection: Conv2d
    let grid: ImageSize
    let dropout: Double

    init(_ path: ParameterPath, config: ViTConfig) {
        let initializer = Initializer.normal(std: config.initializerRange)
        let size = config.hiddenSize
        clsToken = path.parameter("cls_token", shape: [1, 1, size], initializer: initializer)
        grid = config.grid
        positionEmbeddings = path.parameter("position_embeddings", shape: [1, grid.height * grid.width + 1, size],
                                            initializer: initializer)
        let patch = config.patchSize
        projection = Conv2d(path("patch_embeddings")("projection"), inputChannels: config.numChannels,
                            outputChannels: size, kernel: (patch.height, patch.width),
                            stride: (patch.height, patch.width), initializer: initializer)
        dropout = config.hiddenDropoutProb
    }

    /// `[N, C, H, W]` → `[N, 1 + P, D]`. A grid other than the configured one (or a non-square one) gets the
    /// position embeddings resized bicubically, as Hugging Face's `interpolate_pos_encoding=True`.
    public func forward(_ pixels: Tensor, train: Bool) -> Tensor {
        let patches = projection(pixels)  // [N, D, h, w]
        let (height, width) = (patches.size(2), patches.size(3))
        let tokens = patches.flatten(from: 2).transpose(1, 2)  // [N, h·w, D]
        let cls = clsToken.expand([pixels.size(0), 1, clsToken.size(2)])  // [N, 1, D]
        let embedded = cat([cls, tokens], dim: 1) + positions(height: height, width: width)  // [N, 1 + h·w, D]
        return embedded.dropout(dropout, train: train)
    }

    /// The position embeddings for an `height` x `width` patch grid: `[1, 1 + h·w, D]`.
    func positions(height: Int, width: Int) -> Tensor {
        let stored = positionEmbeddings.size(1) - 1
        if height * width == stored && height == width { return positionEmbeddings }
        return VisionPositions.interpolated(positionEmbeddings, height: height, width: width)
    }
}

/// Bicubic resizing of learned position embeddings (DINO's recipe, as Hugging Face's
/// `interpolate_pos_encoding`), shared by ViT and CLIP.
enum VisionPositions {
    /// `[1, 1 + s², D]` (a square s x s table after one class position) → `[1, 1 + h·w, D]`.
    static func interpolated(_ table: Tensor, height: Int, width: Int) -> Tensor {
        let dim = table.size(2)
        let side = Int(Double(table.size(1) - 1).squareRoot())
        let classPosition = table.slice(dim: 1, end: 1)  // [1, 1, D]
        let patchPositions = table.slice(dim: 1, start: 1).reshape([1, side, side, dim]).permute([0, 3, 1, 2])
        let resized = patchPositions.interpolate(size: (height, width), mode: .bicubic, alignCorners: false)
        return cat([classPosition, resized.permute([0, 2, 3, 1]).reshape([1, height * width, dim])], dim: 1)
    }
}

/// Multi-head self-attention (`ViTSelfAttention` + `ViTSelfOutput`, keys `attention.attention.{query,key,value}`
/// and `attention.output.dense`).
public final class ViTAttention {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let output: Linear
    let heads: Int
    let headSize: Int
    let attentionDropout: Double
    let dropout: Double

    init(_ path: ParameterPath, config: ViTConfig) {
        let size = config.hiddenSize
        let initializer = Initializer.normal(std: config.initializerRange)
        let attention = path("attention")
        query = Linear(attention("query"), inputSize: size, outputSize: size, bias: config.qkvBias, initializer: initializer)
        key = Linear(attention("key"), inputSize: size, outputSize: size, bias: config.qkvBias, initializer: initializer)
        value = Linear(attention("value"), inputSize: size, outputSize: size, bias: config.qkvBias, initializer: initializer)
        output = Linear(path("output")("dense"), inputSize: size, outputSize: size, initializer: initializer)
        heads = config.numAttentionHeads
        headSize = config.headSize
        attentionDropout = config.attentionProbsDropoutProb
        dropout = config.hiddenDropoutProb
    }

    /// `[N, T, D]` → `[N, T, D]`.
    public func forward(_ hidden: Tensor, train: Bool) -> Tensor {
        let (batch, length) = (hidden.size(0), hidden.size(1))
        func splitHeads(_ x: Tensor) -> Tensor { x.view([batch, length, heads, headSize]).transpose(1, 2) }
        let context = scaledDotProductAttention(
            query: splitHeads(query(hidden)), key: splitHeads(key(hidden)), value: splitHeads(value(hidden)),
            dropout: train ? attentionDropout : 0)  // [N, heads, T, d]
        let merged = context.transpose(1, 2).reshape([batch, length, heads * headSize])  // [N, T, D]
        return output(merged).dropout(dropout, train: train)
    }
}

/// One pre-LN transformer layer (`ViTLayer`): x + attention(LN(x)), then x + MLP(LN(x)) with the MLP as
/// `intermediate.dense` → activation → `output.dense`.
public final class ViTLayer {
    public let layernormBefore: LayerNorm
    public let attention: ViTAttention
    public let layernormAfter: LayerNorm
    public let intermediate: Linear
    public let output: Linear
    let activation: BertActivation
    let dropout: Double

    init(_ path: ParameterPath, config: ViTConfig) {
        let initializer = Initializer.normal(std: config.initializerRange)
        layernormBefore = LayerNorm(path("layernorm_before"), size: config.hiddenSize, eps: config.layerNormEps)
        attention = ViTAttention(path("attention"), config: config)
        layernormAfter = LayerNorm(path("layernorm_after"), size: config.hiddenSize, eps: config.layerNormEps)
        intermediate = Linear(path("intermediate")("dense"), inputSize: config.hiddenSize,
                              outputSize: config.intermediateSize, initializer: initializer)
        output = Linear(path("output")("dense"), inputSize: config.intermediateSize, outputSize: config.hiddenSize,
                        initializer: initializer)
        activation = config.hiddenAct
        dropout = config.hiddenDropoutProb
    }

    public func forward(_ hidden: Tensor, train: Bool) -> Tensor {
        let attended = hidden + attention.forward(layernormBefore(hidden), train: train)  // [N, T, D]
        let fed = output(activation(intermediate(layernormAfter(attended)))).dropout(dropout, train: train)
        return attended + fed
    }
}

/// What `ViTModel.forward` returns.
public struct ViTModelOutput {
    /// The final LayerNorm's output, `[N, 1 + P, D]` (Hugging Face's `last_hidden_state`).
    public let lastHiddenState: Tensor
    /// dense + tanh of the [CLS] row, `[N, pooler_output_size]`; nil when the model has no pooler.
    public let poolerOutput: Tensor?
}

/// The ViT encoder (`ViTModel`): embeddings, `encoder.layer.N`, the final `layernorm` and an optional
/// `pooler.dense`. As a `FrameEncoder` its vector per frame is the final LayerNorm'ed [CLS] token
/// (`last_hidden_state[:, 0]`, what ViT's classifier reads), not the pooler's dense + tanh, which only some
/// checkpoints train.
public final class ViTModel: FrameEncoder {
    /// The parameter group the encoder's parameters join unless told otherwise.
    public static let parameterGroup = "visual"

    public let config: ViTConfig
    public let path: ParameterPath
    public let embeddings: ViTEmbeddings
    public let layers: [ViTLayer]
    public let layernorm: LayerNorm
    public let pooler: Linear?

    /// Creates the model, initialised as Hugging Face does from the store's seeded generator.
    /// - addPoolingLayer: whether `pooler.dense.*` exists (Hugging Face's default is true; classifier checkpoints
    ///   have none).
    public init(_ path: ParameterPath, config: ViTConfig, addPoolingLayer: Bool = false,
                group: String = ViTModel.parameterGroup) {
        let path = path.inGroup(group)
        self.config = config
        self.path = path
        embeddings = ViTEmbeddings(path("embeddings"), config: config)
        layers = (0..<config.numHiddenLayers).map { ViTLayer(path("encoder")("layer")($0), config: config) }
        layernorm = LayerNorm(path("layernorm"), size: config.hiddenSize, eps: config.layerNormEps)
        pooler = addPoolingLayer
            ? Linear(path("pooler")("dense"), inputSize: config.hiddenSize,
                     outputSize: config.poolerOutputSize ?? config.hiddenSize,
                     initializer: .normal(std: config.initializerRange))
            : nil
    }

    /// Encodes `[N, C, H, W]` pixels (H and W multiples of the patch size).
    public func forward(_ pixels: Tensor, train: Bool) -> ViTModelOutput {
        var hidden = embeddings.forward(pixels, train: train)  // [N, 1 + P, D]
        for layer in layers { hidden = layer.forward(hidden, train: train) }
        let last = layernorm(hidden)
        return ViTModelOutput(lastHiddenState: last, poolerOutput: pooler.map { $0(last.select(dim: 1, index: 0)).tanh() })
    }

    public var outputSize: Int { config.hiddenSize }
    public var imageSize: ImageSize { config.imageSize }

    /// The final LayerNorm'ed [CLS] token: `[N, C, H, W]` → `[N, D]`.
    public func encodeFrames(_ pixels: Tensor, train: Bool) -> Tensor {
        forward(pixels, train: train).lastHiddenState.select(dim: 1, index: 0)
    }

    /// Copies a Hugging Face checkpoint's tensors into this model, strictly (see `ViTCheckpointKeys`): keys with
    /// the `vit.` prefix of task models or none; `classifier.*` is ignored and reported.
    @discardableResult
    public func load(_ tensors: [String: Tensor], source: String = "checkpoint") throws -> CheckpointLoadReport {
        var hint = "the checkpoint must come from a ViT with the same config.json (hidden_size, layers, patch_size, image_size)"
        if pooler == nil, tensors.keys.contains(where: { ViTCheckpointKeys.map($0) == .parameter("pooler.dense.weight") }) {
            hint += "; it has a pooler: build ViTModel(…, addPoolingLayer: true)"
        } else if pooler != nil {
            hint += "; a checkpoint without pooler.* loads into ViTModel(…, addPoolingLayer: false)"
        }
        return try path.load(tensors, mapping: ViTCheckpointKeys.map, source: source, hint: { _ in hint })
    }

    public func checkpointTensors() -> [String: Tensor] { path.checkpointTensors() }
}

/// The one renaming table for Hugging Face ViT checkpoints.
enum ViTCheckpointKeys {
    /// The prefix ViTForImageClassification / ViTForMaskedImageModeling put before the encoder's keys.
    static let modelPrefix = "vit."
    static let headPrefixes = ["classifier.", "decoder."]

    static func map(_ key: String) -> CheckpointKeyMapping {
        if headPrefixes.contains(where: key.hasPrefix) { return .ignored("task head, not part of the encoder") }
        let name = FrameEncoderCheckpoint.stripping(modelPrefix, key)
        if name == "embeddings.mask_token" { return .ignored("masked-image-modelling token, unused by the encoder") }
        return .parameter(name)
    }
}
