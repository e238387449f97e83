import Foundation
import Torch

// CLIP's vision tower (Radford et al. 2021) as Hugging Face transformers' `modeling_clip.py` computes it, read
// bottom-up: embeddings → self-attention → MLP → layer → model. Module paths are the checkpoint keys of
// CLIPVisionModelWithProjection and CLIPModel (`vision_model.encoder.layers.0.self_attn.q_proj.weight`,
// `vision_model.pre_layrnorm.*` in Hugging Face's spelling, `visual_projection.weight`); the renaming lives in
// `CLIPCheckpointKeys`. Initialisation follows `CLIPPreTrainedModel._init_weights` (std scaled by
// initializer_factor): class embedding normal(D^-½), patch and position embeddings normal(initializer_range),
// q/k/v normal(D^-½ (2L)^-½), out_proj normal(D^-½), fc1 normal((2D)^-½), fc2 normal(D^-½ (2L)^-½),
// projection normal(D^-½), biases zero, LayerNorm ones and zeros.

/// Class embedding, bias-free patch embedding and position embeddings (`CLIPVisionEmbeddings`, keys
/// `embeddings.class_embedding` [D], `embeddings.patch_embedding.weight`, `embeddings.position_embedding.weight`
/// [P + 1, D]).
public final class CLIPVisionEmbeddings {
    public let classEmbedding: Tensor
    public let patchEmbedding: Conv2d
    public let positionEmbedding: Embedding
    let gridSide: Int

    init(_ path: ParameterPath, config: CLIPVisionConfig) {
        let size = config.hiddenSize
        let factor = config.initializerFactor
        classEmbedding = path.parameter("class_embedding", shape: [size],
                                        initializer: .normal(std: pow(Double(size), -0.5) * factor))
        patchEmbedding = Conv2d(path("patch_embedding"), inputChannels: config.numChannels, outputChannels: size,
                                kernel: (config.patchSize, config.patchSize), stride: (config.patchSize, config.patchSize),
                                bias: false, initializer: .normal(std: config.initializerRange * factor))
        gridSide = config.gridSide
        positionEmbedding = Embedding(path("position_embedding"), count: gridSide * gridSide + 1, size: size,
                                      initializer: .normal(std: config.initializerRange * factor))
    }

    /// `[N, C, H, W]` → `[N, 1 + P, D]`; another grid than the configured one gets bicubically resized position
    /// embeddings, as Hugging Face's `interpolate_pos_encoding=True`.
    public func forward(_ pixels: Tensor) -> Tensor {
        let patches = patchEmbedding(pixels)  // [N, D, h, w]
        let (height, width) = (patches.size(2), patches.size(3))
        let tokens = patches.flatten(from: 2).transpose(1, 2)  // [N, h·w, D]
        let size = classEmbedding.size(0)
        let cls = classEmbedding.view([1, 1, size]).expand([pixels.size(0), 1, size])  // [N, 1, D]
        let table = positionEmbedding.weight.unsqueeze(0)  // [1, P + 1, D]
        let positions = height == gridSide && width == gridSide
            ? table : VisionPositions.interpolated(table, height: height, width: width)
        return cat([cls, tokens], dim: 1) + positions
    }
}

/// Multi-head self-attention (`CLIPAttention`, keys `self_attn.{q,k,v,out}_proj`).
public final class CLIPAttention {
    public let qProj: Linear
    public let kProj: Linear
    public let vProj: Linear
    public let outProj: Linear
    let heads: Int
    let headSize: Int
    let dropout: Double

    init(_ path: ParameterPath, config: CLIPVisionConfig) {
        let size = config.hiddenSize
        let factor = config.initializerFactor
        let inStd = pow(Double(size), -0.5) * pow(Double(2 * config.numHiddenLayers), -0.5) * factor
        let outStd = pow(Double(size), -0.5) * factor
        qProj = Linear(path("q_proj"), inputSize: size, outputSize: size, initializer: .normal(std: inStd))
        kProj = Linear(path("k_proj"), inputSize: size, outputSize: size, initializer: .normal(std: inStd))
        vProj = Linear(path("v_proj"), inputSize: size, outputSize: size, initializer: .normal(std: inStd))
        outProj = Linear(path("out_proj"), inputSize: size, outputSize: size, initializer: .normal(std: outStd))
        heads = config.numAttentionHeads
        headSize = config.headSize
        dropout = config.attentionDropout
    }

    /// `[N, T, D]` → `[N, T, D]`.
    public func forward(_ hidden: Tensor, train: Bool) -> Tensor {
        let (batch, length) = (hidden.size(0), hidden.size(1))
        func splitHeads(_ x: Tensor) -> Tensor { x.view([batch, length, heads, headSize]).transpose(1, 2) }
        let context = scaledDotProductAttention(
            query: splitHeads(qProj(hidden)), key: splitHeads(kProj(hidden)), value: splitHeads(vProj(hidden)),
            dropout: train ? dropout : 0)  // [N, heads, T, d]
        return outProj(context.transpose(1, 2).reshape([batch, length, heads * headSize]))
    }
}

/// One pre-LN layer (`CLIPEncoderLayer`): x + attention(layer_norm1(x)), then x + fc2(act(fc1(layer_norm2(x)))).
public final class CLIPEncoderLayer {
    public let layerNorm1: LayerNorm
    public let selfAttention: CLIPAttention
    public let layerNorm2: LayerNorm
    public let fc1: Linear
    public let fc2: Linear
    let activation: BertActivation

    init(_ path: ParameterPath, config: CLIPVisionConfig) {
        let size = config.hiddenSize
        let factor = config.initializerFactor
        layerNorm1 = LayerNorm(path("layer_norm1"), size: size, eps: config.layerNormEps)
        selfAttention = CLIPAttention(path("self_attn"), config: config)
        layerNorm2 = LayerNorm(path("layer_norm2"), size: size, eps: config.layerNormEps)
        let mlp = path("mlp")
        fc1 = Linear(mlp("fc1"), inputSize: size, outputSize: config.intermediateSize,
                     initializer: .normal(std: pow(Double(2 * size), -0.5) * factor))
        fc2 = Linear(mlp("fc2"), inputSize: config.intermediateSize, outputSize: size,
                     initializer: .normal(std: pow(Double(size), -0.5) * pow(Double(2 * config.numHiddenLayers), -0.5) * factor))
        activation = config.hiddenAct
    }

    public func forward(_ hidden: Tensor, train: Bool) -> Tensor {
        let attended = hidden + selfAttention.forward(layerNorm1(hidden), train: train)  // [N, T, D]
        return attended + fc2(activation(fc1(layerNorm2(attended))))
    }
}

/// What `CLIPVisionModel.forward` returns.
public struct CLIPVisionModelOutput {
    /// The last layer's output, `[N, 1 + P, D]` (not post-normalised, as Hugging Face's `last_hidden_state`).
    public let lastHiddenState: Tensor
    /// `post_layernorm` of the class token, `[N, D]` (Hugging Face's `pooler_output`).
    public let poolerOutput: Tensor
    /// `visual_projection(pooler_output)`, `[N, projection_dim]` (`image_embeds`); nil without the projection.
    public let imageEmbeds: Tensor?
}

/// CLIP's vision tower (`CLIPVisionModel`, keys under `vision_model.`) and, optionally, its
/// `visual_projection` (CLIPVisionModelWithProjection). As a `FrameEncoder` its vector per frame is the
/// projected image embedding when the projection exists (CLIP's joint image-text space, `projection_dim`
/// wide), else `post_layernorm` of the class token (`hidden_size` wide).
public final class CLIPVisionModel: FrameEncoder {
    public static let parameterGroup = "visual"

    public let config: CLIPVisionConfig
    public let path: ParameterPath
    public let embeddings: CLIPVisionEmbeddings
    public let preLayerNorm: LayerNorm
    public let layers: [CLIPEncoderLayer]
    public let postLayerNorm: LayerNorm
    public let visualProjection: Linear?

    /// Creates the model, initialised as Hugging Face does from the store's seeded generator.
    /// - withProjection: whether `visual_projection.weight` exists.
    public init(_ path: ParameterPath, config: CLIPVisionConfig, withProjection: Bool = false,
                group: String = CLIPVisionModel.parameterGroup) {
        let path = path.inGroup(group)
        self.config = config
        self.path = path
        let vision = path(CLIPCheckpointKeys.towerName)
        embeddings = CLIPVisionEmbeddings(vision("embeddings"), config: config)
        preLayerNorm = LayerNorm(vision("pre_layrnorm"), size: config.hiddenSize, eps: config.layerNormEps)
        layers = (0..<config.numHiddenLayers).map { CLIPEncoderLayer(vision("encoder")("layers")($0), config: config) }
        postLayerNorm = LayerNorm(vision("post_layernorm"), size: config.hiddenSize, eps: config.layerNormEps)
        visualProjection = withProjection
            ? Linear(path("visual_projection"), inputSize: config.hiddenSize, outputSize: config.projectionDim,
                     bias: false,
                     initializer: .normal(std: pow(Double(config.hiddenSize), -0.5) * config.initializerFactor))
            : nil
    }

    /// Encodes `[N, C, H, W]` pixels (H and W multiples of the patch size).
    public func forward(_ pixels: Tensor, train: Bool) -> CLIPVisionModelOutput {
        var hidden = preLayerNorm(embeddings.forward(pixels))  // [N, 1 + P, D]
        for layer in layers { hidden = layer.forward(hidden, train: train) }
        let pooled = postLayerNorm(hidden.select(dim: 1, index: 0))  // [N, D]
        return CLIPVisionModelOutput(lastHiddenState: hidden, poolerOutput: pooled,
                                     imageEmbeds: visualProjection.map { $0(pooled) })
    }

    public var outputSize: Int { visualProjection == nil ? config.hiddenSize : config.projectionDim }
    public var imageSize: ImageSize { ImageSize(square: config.imageSize) }

    /// `[N, C, H, W]` → `[N, projection_dim]` with the projection, else `[N, hidden_size]`.
    public func encodeFrames(_ pixels: Tensor, train: Bool) -> Tensor {
        let output = forward(pixels, train: train)
        return output.imageEmbeds ?? output.poolerOutput
    }

    /// Copies a Hugging Face checkpoint's tensors into this model, strictly (see `CLIPCheckpointKeys`): keys
    /// under `vision_model.` or bare (CLIPVisionModel as transformers 5 saves it); a CLIPModel's text tower,
    /// `text_projection` and `logit_scale` are ignored and reported, as is `visual_projection.weight` when the
    /// model was built without the projection.
    @discardableResult
    public func load(_ tensors: [String: Tensor], source: String = "checkpoint") throws -> CheckpointLoadReport {
        let hasProjection = visualProjection != nil
        var hint = "the checkpoint must come from a CLIP vision tower with the same config (hidden_size, layers, "
            + "patch_size, image_size)"
        if hasProjection && tensors[CLIPCheckpointKeys.projectionWeight] == nil {
            hint += "; it has no visual_projection: build CLIPVisionModel(…, withProjection: false)"
        }
        return try path.load(tensors, mapping: { CLIPCheckpointKeys.map($0, withProjection: hasProjection) }, source: source, hint: { _ in hint })
    }

    public func checkpointTensors() -> [String: Tensor] { path.checkpointTensors() }
}

/// The one renaming table for Hugging Face CLIP checkpoints.
enum CLIPCheckpointKeys {
    /// The module holding the tower in CLIPModel and CLIPVisionModelWithProjection, and in this model.
    static let towerName = "vision_model"
    static let projectionWeight = "visual_projection.weight"
    /// Parts of a whole CLIPModel that the vision tower does not use.
    static let textParts = ["text_model.", "text_projection.", "logit_scale"]
    /// Buffers Hugging Face computes (saved by older versions).
    static let computedBuffers = ["embeddings.position_ids"]

    static func map(_ key: String, withProjection: Bool) -> CheckpointKeyMapping {
        if textParts.contains(where: key.hasPrefix) { return .ignored("CLIP text tower, not part of the vision encoder") }
        if key == projectionWeight {
            return withProjection ? .parameter(key) : .ignored("visual projection, not built (withProjection: false)")
        }
        let name = FrameEncoderCheckpoint.stripping(towerName + ".", key)
        if computedBuffers.contains(name) { return .ignored("buffer that the model computes") }
        return .parameter("\(towerName).\(name)")
    }
}
