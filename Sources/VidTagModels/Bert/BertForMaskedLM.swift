import Foundation
import Torch

/// The masked-language-model head (`BertOnlyMLMHead`, keys `cls.predictions.*`): dense + activation +
/// LayerNorm, then a decoder onto the vocabulary whose weight is the word-embedding table itself (tied: the
/// same tensor, so it is stored and trained once) plus its own bias `cls.predictions.bias`.
public final class BertMaskedLMHead {
    public let transformDense: Linear
    public let transformLayerNorm: LayerNorm
    /// `[V, H]`: the encoder's `embeddings.word_embeddings.weight`, not a copy.
    public let decoderWeight: Tensor
    /// `[V]`, saved as `cls.predictions.bias` (Hugging Face's `cls.predictions.decoder.bias` is an alias).
    public let bias: Tensor
    let activation: BertActivation

    /// - path: the `cls.predictions` path.
    public init(_ path: ParameterPath, config: BertConfig, wordEmbeddings: Embedding) {
        transformDense = Linear(path("transform")("dense"), inputSize: config.hiddenSize,
                                outputSize: config.hiddenSize, initializer: .normal(std: config.initializerRange))
        transformLayerNorm = LayerNorm(path("transform")("LayerNorm"), size: config.hiddenSize, eps: config.layerNormEps)
        decoderWeight = wordEmbeddings.weight
        bias = path.parameter("bias", shape: [config.vocabSize], initializer: .zeros)
        activation = config.hiddenAct
    }

    /// `[B, T, H]` → logits `[B, T, V]`.
    public func forward(_ hidden: Tensor) -> Tensor {
        let transformed = transformLayerNorm(activation(transformDense(hidden)))
        return transformed.linear(weight: decoderWeight, bias: bias)
    }
}

/// BERT with the masked-language-model head (`BertForMaskedLM`): keys `bert.*` (no pooler) and
/// `cls.predictions.*`, the decoder tied to the word embeddings. Used for in-domain MLM pretraining of the
/// text encoder; `bert` is the encoder a downstream model keeps.
public final class BertForMaskedLM {
    public let config: BertConfig
    public let path: ParameterPath
    public let bert: BertModel
    public let head: BertMaskedLMHead

    /// Creates the model under `path` (its `bert` and `cls` sub-paths), initialised as Hugging Face does from
    /// the store's seeded generator; every parameter joins `group`.
    public init(_ path: ParameterPath, config: BertConfig, group: String = BertModel.parameterGroup) {
        let path = path.inGroup(group)
        self.config = config
        self.path = path
        bert = BertModel(path("bert"), config: config, addPoolingLayer: false, group: group)
        head = BertMaskedLMHead(path("cls")("predictions"), config: config,
                                wordEmbeddings: bert.embeddings.wordEmbeddings)
    }

    /// Logits `[B, T, V]` for every position, and the encoder's output.
    public func forward(inputIds: Tensor, attentionMask: Tensor? = nil, tokenTypeIds: Tensor? = nil,
                        outputHiddenStates: Bool = false, train: Bool) -> (logits: Tensor, encoder: BertModelOutput) {
        let encoded = bert.forward(inputIds: inputIds, attentionMask: attentionMask, tokenTypeIds: tokenTypeIds,
                                   outputHiddenStates: outputHiddenStates, train: train)
        return (head.forward(encoded.lastHiddenState), encoded)
    }

    /// Mean cross-entropy of `logits` `[B, T, V]` against `labels` `[B, T]` (i64), positions labelled -100
    /// (not masked) left out, as Hugging Face's MLM loss.
    public static func loss(logits: Tensor, labels: Tensor) -> Tensor {
        logits.reshape([-1, logits.size(-1)]).crossEntropy(labels.reshape([-1]), ignoreIndex: -100)
    }

    /// Copies a Hugging Face `BertForMaskedLM` / `BertForPreTraining` checkpoint's tensors, strictly (see
    /// `BertCheckpointKeys`): encoder keys with or without `bert.`; `cls.predictions.decoder.bias` as an
    /// alias of `cls.predictions.bias`; the tied `cls.predictions.decoder.weight`, the next-sentence head and
    /// computed buffers ignored and reported.
    @discardableResult
    public func load(_ tensors: [String: Tensor], source: String = "checkpoint") throws -> CheckpointLoadReport {
        try BertCheckpointLoader.load(tensors, into: path, mapping: BertCheckpointKeys.maskedLM, source: source)
    }

    @discardableResult
    public func load(contentsOf url: URL) throws -> CheckpointLoadReport {
        try load(BertCheckpointLoader.readSafeTensors(url), source: url.path)
    }

    /// The parameters under their Hugging Face `BertForMaskedLM` keys, detached (the tied decoder weight
    /// once, as `bert.embeddings.word_embeddings.weight`).
    public func checkpointTensors() -> [String: Tensor] { path.checkpointTensors() }
}
