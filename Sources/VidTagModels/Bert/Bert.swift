import Foundation
import Torch

// BERT (Devlin et al. 2019) as Hugging Face transformers' `modeling_bert.py` computes it, read bottom-up:
// embeddings → self-attention → attention output → feed-forward → layer → encoder → pooler → model.
// Module paths are the checkpoint keys (`encoder.layer.0.attention.self.query.weight`); the renaming of
// other checkpoints' keys lives in one table, BertCheckpoint.swift. Initialisation follows
// `BertPreTrainedModel._init_weights`: Linear and Embedding weights normal(0, initializer_range), the padding
// row zero, biases zero, LayerNorm ones and zeros.

/// Word + position + token-type embeddings, then LayerNorm and dropout (`BertEmbeddings`).
public final class BertEmbeddings {
    public let wordEmbeddings: Embedding
    public let positionEmbeddings: Embedding
    public let tokenTypeEmbeddings: Embedding
    public let layerNorm: LayerNorm
    public let dropout: Double

    init(_ path: ParameterPath, config: BertConfig) {
        let initializer = Initializer.normal(std: config.initializerRange)
        wordEmbeddings = Embedding(path("word_embeddings"), count: config.vocabSize, size: config.hiddenSize,
                                   paddingIndex: config.padTokenId, initializer: initializer)
        positionEmbeddings = Embedding(path("position_embeddings"), count: config.maxPositionEmbeddings,
                                       size: config.hiddenSize, initializer: initializer)
        tokenTypeEmbeddings = Embedding(path("token_type_embeddings"), count: config.typeVocabSize,
                                        size: config.hiddenSize, initializer: initializer)
        layerNorm = LayerNorm(path("LayerNorm"), size: config.hiddenSize, eps: config.layerNormEps)
        dropout = config.hiddenDropoutProb
    }

    /// Embeds token ids `[B, T]` (i64).
    public func forward(inputIds: Tensor, tokenTypeIds: Tensor? = nil, positionIds: Tensor? = nil,
                        train: Bool) -> Tensor {
        forward(inputsEmbeds: wordEmbeddings(inputIds), tokenTypeIds: tokenTypeIds, positionIds: positionIds,
                train: train)
    }

    /// Adds position and token-type embeddings to precomputed input vectors `[B, T, H]` (word embeddings,
    /// frame features projected to H, or both concatenated), then normalises.
    /// - tokenTypeIds: `[B, T]` i64, all 0 when nil.
    /// - positionIds: `[B, T]` or `[T]` i64, `0 ..< T` when nil.
    public func forward(inputsEmbeds: Tensor, tokenTypeIds: Tensor? = nil, positionIds: Tensor? = nil,
                        train: Bool) -> Tensor {
        let length = inputsEmbeds.size(1)
        precondition(
            positionIds != nil || length <= positionEmbeddings.weight.size(0),
            "BERT input of \(length) positions exceeds max_position_embeddings \(positionEmbeddings.weight.size(0))")
        let tokenTypes = tokenTypeIds.map { tokenTypeEmbeddings($0) } ?? tokenTypeEmbeddings.weight[0]  // [B, T, H] or [H]
        let positions = positionEmbeddings(positionIds ?? Tensor.arange(length, device: inputsEmbeds.device))  // [T, H]
        let embedded = inputsEmbeds + tokenTypes + positions  // [B, T, H]
        return layerNorm(embedded).dropout(dropout, train: train)
    }
}

/// Multi-head self-attention: query, key, value projections and `scaledDotProductAttention`
/// (`BertSelfAttention`); attention probabilities get dropout when training.
public final class BertSelfAttention {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    let heads: Int
    let headSize: Int
    let dropout: Double

    init(_ path: ParameterPath, config: BertConfig) {
        let size = config.hiddenSize
        let initializer = Initializer.normal(std: config.initializerRange)
        query = Linear(path("query"), inputSize: size, outputSize: size, initializer: initializer)
        key = Linear(path("key"), inputSize: size, outputSize: size, initializer: initializer)
        value = Linear(path("value"), inputSize: size, outputSize: size, initializer: initializer)
        heads = config.numAttentionHeads
        headSize = config.headSize
        dropout = config.attentionProbsDropoutProb
    }

    /// - context: the sequence keys and values come from (`encoder_hidden_states`, cross-attention) `[B, S, H]`;
    ///   nil attends to `hidden` itself.
    /// - mask: bool `[B, 1, 1, S]`, true where a key may be attended to (see `BertModel.attentionMask`).
    public func forward(_ hidden: Tensor, context: Tensor? = nil, mask: Tensor?, train: Bool) -> Tensor {
        let batch = hidden.size(0)
        let length = hidden.size(1)
        let source = context ?? hidden
        func splitHeads(_ x: Tensor) -> Tensor { x.view([batch, x.size(1), heads, headSize]).transpose(1, 2) }
        let attended = scaledDotProductAttention(
            query: splitHeads(query(hidden)), key: splitHeads(key(source)), value: splitHeads(value(source)),
            mask: mask, dropout: train ? dropout : 0)  // [B, heads, T, D]
        return attended.transpose(1, 2).reshape([batch, length, heads * headSize])  // [B, T, H]
    }
}

/// Projection, dropout, then LayerNorm around the residual (`BertSelfOutput` and `BertOutput`).
public final class BertResidualOutput {
    public let dense: Linear
    public let layerNorm: LayerNorm
    let dropout: Double

    init(_ path: ParameterPath, inputSize: Int, config: BertConfig) {
        dense = Linear(path("dense"), inputSize: inputSize, outputSize: config.hiddenSize,
                       initializer: .normal(std: config.initializerRange))
        layerNorm = LayerNorm(path("LayerNorm"), size: config.hiddenSize, eps: config.layerNormEps)
        dropout = config.hiddenDropoutProb
    }

    public func forward(_ hidden: Tensor, residual: Tensor, train: Bool) -> Tensor {
        layerNorm(dense(hidden).dropout(dropout, train: train) + residual)
    }
}

/// Self-attention and its output block (`BertAttention`, keys `attention.self.*`, `attention.output.*`).
public final class BertAttention {
    public let selfAttention: BertSelfAttention
    public let output: BertResidualOutput

    init(_ path: ParameterPath, config: BertConfig) {
        selfAttention = BertSelfAttention(path("self"), config: config)
        output = BertResidualOutput(path("output"), inputSize: config.hiddenSize, config: config)
    }

    public func forward(_ hidden: Tensor, mask: Tensor?, train: Bool) -> Tensor {
        output.forward(selfAttention.forward(hidden, mask: mask, train: train), residual: hidden, train: train)
    }
}

/// One transformer layer: attention, then the feed-forward block (`intermediate.dense` + activation,
/// `output.dense` + dropout + residual LayerNorm) (`BertLayer`).
public final class BertLayer {
    public let attention: BertAttention
    public let intermediate: Linear
    public let output: BertResidualOutput
    let activation: BertActivation

    init(_ path: ParameterPath, config: BertConfig) {
        attention = BertAttention(path("attention"), config: config)
        intermediate = Linear(path("intermediate")("dense"), inputSize: config.hiddenSize,
                              outputSize: config.intermediateSize, initializer: .normal(std: config.initializerRange))
        output = BertResidualOutput(path("output"), inputSize: config.intermediateSize, config: config)
        activation = config.hiddenAct
    }

    public func forward(_ hidden: Tensor, mask: Tensor?, train: Bool) -> Tensor {
        let attended = attention.forward(hidden, mask: mask, train: train)  // [B, T, H]
        return output.forward(activation(intermediate(attended)), residual: attended, train: train)
    }
}

/// The stack of layers (`BertEncoder`, keys `encoder.layer.N.*`).
public final class BertEncoder {
    public let layers: [BertLayer]

    init(_ path: ParameterPath, config: BertConfig) {
        layers = (0..<config.numHiddenLayers).map { BertLayer(path("layer")($0), config: config) }
    }

    /// Runs every layer over `hidden` `[B, T, H]`.
    /// - mask: bool `[B, 1, 1, T]` from `BertModel.attentionMask`, nil when nothing is padding.
    /// - Returns: the last layer's output and, when `outputHiddenStates`, the input followed by each layer's
    ///   output (as Hugging Face's `hidden_states`: L + 1 tensors).
    public func forward(_ hidden: Tensor, mask: Tensor?, outputHiddenStates: Bool = false, train: Bool)
        -> (lastHiddenState: Tensor, hiddenStates: [Tensor])
    {
        var hidden = hidden
        var states = outputHiddenStates ? [hidden] : []
        for layer in layers {
            hidden = layer.forward(hidden, mask: mask, train: train)
            if outputHiddenStates { states.append(hidden) }
        }
        return (hidden, states)
    }
}

/// Dense + tanh on the first (`[CLS]`) token (`BertPooler`).
public final class BertPooler: Module {
    public let dense: Linear

    init(_ path: ParameterPath, config: BertConfig) {
        dense = Linear(path("dense"), inputSize: config.hiddenSize, outputSize: config.hiddenSize,
                       initializer: .normal(std: config.initializerRange))
    }

    /// `[B, T, H]` → `[B, H]`.
    public func forward(_ hidden: Tensor, train: Bool = false) -> Tensor {
        dense(hidden.select(dim: 1, index: 0)).tanh()
    }
}

/// What `BertModel.forward` returns.
public struct BertModelOutput {
    /// `[B, T, H]`.
    public let lastHiddenState: Tensor
    /// `[B, H]`, nil when the model has no pooler.
    public let pooled: Tensor?
    /// The embeddings' output followed by every layer's output (L + 1 tensors `[B, T, H]`), when asked for.
    public let hiddenStates: [Tensor]
}

/// The BERT encoder (`BertModel`): embeddings, layers and an optional pooler. Parameters are named as the
/// Hugging Face checkpoint keys under the path given at creation and belong to the group `group`
/// ("text" by default), so that BERT gets its own learning rate.
public final class BertModel {
    /// The parameter group BERT's parameters join unless told otherwise.
    public static let parameterGroup = "text"

    public let config: BertConfig
    /// Where the parameters live (its prefix is "" for a bare encoder, "bert" inside `BertForMaskedLM`).
    public let path: ParameterPath
    public let embeddings: BertEmbeddings
    public let encoder: BertEncoder
    public let pooler: BertPooler?

    /// Creates the model, initialised as Hugging Face does from the path's store generator (seeded by the
    /// store): `ParameterStore(seed: 7)` gives the same weights every time.
    /// - addPoolingLayer: false for checkpoints without `pooler.*` (BertForMaskedLM saves none).
    public init(_ path: ParameterPath, config: BertConfig, addPoolingLayer: Bool = true,
                group: String = BertModel.parameterGroup) {
        let path = path.inGroup(group)
        self.config = config
        self.path = path
        embeddings = BertEmbeddings(path("embeddings"), config: config)
        encoder = BertEncoder(path("encoder"), config: config)
        pooler = addPoolingLayer ? BertPooler(path("pooler"), config: config) : nil
    }

    /// The attention mask the encoder takes: `[B, T]` (1 / true for tokens, 0 / false for padding, any
    /// dtype) → bool `[B, 1, 1, T]`, true where a key may be attended to.
    public static func attentionMask(_ mask: Tensor) -> Tensor {
        mask.ne(0).unsqueeze(1).unsqueeze(1)
    }

    /// Encodes token ids.
    /// - inputIds: `[B, T]` i64.
    /// - attentionMask: `[B, T]`, 1 for tokens and 0 for padding; nil means no padding. Pass nil when the
    ///   batch has no padding (decided on the host from its lengths): attention then runs libtorch's fused
    ///   kernel for unmasked inputs, as transformers does when it drops an all-ones mask.
    /// - tokenTypeIds: `[B, T]` i64 segment ids; nil means all 0.
    public func forward(inputIds: Tensor, attentionMask: Tensor? = nil, tokenTypeIds: Tensor? = nil,
                        outputHiddenStates: Bool = false, train: Bool) -> BertModelOutput {
        forward(inputsEmbeds: embeddings.wordEmbeddings(inputIds), attentionMask: attentionMask,
                tokenTypeIds: tokenTypeIds, outputHiddenStates: outputHiddenStates, train: train)
    }

    /// Encodes precomputed input vectors `[B, T, H]` in place of word embeddings (Hugging Face's
    /// `inputs_embeds`): position and token-type embeddings are still added. A single-stream video model
    /// passes `[CLS] text [SEP] frames [SEP]` built from `embeddings.wordEmbeddings` and projected frames.
    /// - positionIds: `[B, T]` or `[T]` i64; `0 ..< T` when nil.
    public func forward(inputsEmbeds: Tensor, attentionMask: Tensor? = nil, tokenTypeIds: Tensor? = nil,
                        positionIds: Tensor? = nil, outputHiddenStates: Bool = false, train: Bool) -> BertModelOutput {
        let embedded = embeddings.forward(inputsEmbeds: inputsEmbeds, tokenTypeIds: tokenTypeIds, positionIds: positionIds,
                                          train: train)
        // Whether there is padding is the caller's host-side decision (nil: none), never read back from the
        // device: unmasked attention is measured 30 % faster for BERT-base at b8 × 256 on CPU.
        let mask = attentionMask.map(Self.attentionMask)
        let (last, states) = encoder.forward(embedded, mask: mask, outputHiddenStates: outputHiddenStates, train: train)
        return BertModelOutput(lastHiddenState: last, pooled: pooler?.forward(last), hiddenStates: states)
    }

    /// The mean of `hidden` `[B, T, H]` over the tokens where `attentionMask` `[B, T]` is non-zero → `[B, H]`
    /// (sentence-transformers' mean pooling).
    public static func meanPooled(_ hidden: Tensor, attentionMask: Tensor) -> Tensor {
        let weights = attentionMask.ne(0).to(hidden.dtype).unsqueeze(-1)  // [B, T, 1]
        return (hidden * weights).sum(dim: 1) / weights.sum(dim: 1).clamp(min: 1e-9)
    }
}
