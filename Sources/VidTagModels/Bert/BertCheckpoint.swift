import Foundation
import Torch

/// The one renaming table for Hugging Face BERT checkpoints. Every rule that maps a
/// checkpoint key to a parameter name, or ignores it on purpose, is here.
enum BertCheckpointKeys {
    /// LayerNorm names of checkpoints converted from the original TensorFlow BERT.
    static let renamedSuffixes = [("LayerNorm.gamma", "LayerNorm.weight"), ("LayerNorm.beta", "LayerNorm.bias")]
    /// The prefix task models (BertForMaskedLM, BertForPreTraining, BertForSequenceClassification, …) put
    /// before the encoder's keys; a bare BertModel saves none.
    static let encoderPrefix = "bert."
    /// Buffers Hugging Face saves that this model computes instead.
    static let computedBuffers = ["embeddings.position_ids", "embeddings.token_type_ids"]
    /// Task heads, which a bare encoder does not have.
    static let headPrefix = "cls."
    static let maskedLMBias = "cls.predictions.bias"
    /// The same tensor as `cls.predictions.bias` in Hugging Face (`decoder.bias = bias`).
    static let maskedLMDecoderBias = "cls.predictions.decoder.bias"
    /// Tied to `bert.embeddings.word_embeddings.weight`: this model uses that tensor itself.
    static let maskedLMDecoderWeight = "cls.predictions.decoder.weight"
    /// BertForPreTraining's next-sentence head, which the MLM model does not have.
    static let nextSentencePrefix = "cls.seq_relationship."

    static func renamingSuffixes(_ key: String) -> String {
        for (old, new) in renamedSuffixes where key.hasSuffix(old) { return String(key.dropLast(old.count)) + new }
        return key
    }

    /// A key as `BertModel` names it (no prefix).
    static func encoder(_ key: String) -> CheckpointKeyMapping {
        let key = renamingSuffixes(key)
        if key.hasPrefix(headPrefix) { return .ignored("task head, not part of the encoder") }
        let name = key.hasPrefix(encoderPrefix) ? String(key.dropFirst(encoderPrefix.count)) : key
        if computedBuffers.contains(name) { return .ignored("buffer that BertModel computes") }
        return .parameter(name)
    }

    /// A key as `BertForMaskedLM` names it (`bert.*`, `cls.predictions.*`).
    static func maskedLM(_ key: String) -> CheckpointKeyMapping {
        let key = renamingSuffixes(key)
        guard key.hasPrefix(headPrefix) else {
            return switch encoder(key) {
            case .parameter(let name): .parameter(encoderPrefix + name)
            case .alias(let name): .alias(of: encoderPrefix + name)
            case .ignored(let reason): .ignored(reason)
            }
        }
        if key == maskedLMDecoderBias { return .alias(of: maskedLMBias) }
        if key == maskedLMDecoderWeight { return .ignored("tied to bert.embeddings.word_embeddings.weight") }
        if key.hasPrefix(nextSentencePrefix) { return .ignored("next-sentence head, not part of BertForMaskedLM") }
        return .parameter(key)
    }
}



enum BertCheckpointLoader {
    /// Loads a BERT checkpoint under `path` through the strict loader with one of BERT's renaming tables.
    static func load(_ tensors: [String: Tensor], into path: ParameterPath, mapping: (String) -> CheckpointKeyMapping,
                     source: String) throws -> CheckpointLoadReport {
        try path.load(tensors, mapping: mapping, source: source) { problems in
            var hint = "the checkpoint must come from a BERT with the same config.json"
            if problems.contains(where: { $0.hasPrefix("missing key pooler.") || $0.hasPrefix("missing key bert.pooler.") }) {
                hint += "; a checkpoint without pooler.* (e.g. saved by BertForMaskedLM) loads into "
                    + "BertModel(…, addPoolingLayer: false)"
            }
            return hint
        }
    }

    static func readSafeTensors(_ url: URL) throws -> [String: Tensor] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CheckpointLoadError(source: url.path, problems: ["no such file"],
                                hint: "a text encoder folder holds config.json, model.safetensors and vocab.txt")
        }
        return try SafeTensors.load(url)
    }
}

extension BertModel {
    /// Copies a Hugging Face checkpoint's tensors into this model, strictly (see `BertCheckpointKeys`): keys
    /// may carry the `bert.` prefix or none; old `LayerNorm.gamma`/`beta` names are accepted; the
    /// `embeddings.position_ids` buffer and `cls.*` heads are ignored and reported. A missing, unexpected or
    /// mis-shaped key throws `CheckpointLoadError` naming the key and both shapes.
    @discardableResult
    public func load(_ tensors: [String: Tensor], source: String = "checkpoint") throws -> CheckpointLoadReport {
        try BertCheckpointLoader.load(tensors, into: path, mapping: BertCheckpointKeys.encoder, source: source)
    }

    /// Loads a `model.safetensors` file (see `load(_:source:)`).
    @discardableResult
    public func load(contentsOf url: URL) throws -> CheckpointLoadReport {
        try load(BertCheckpointLoader.readSafeTensors(url), source: url.path)
    }

    /// The parameters under their Hugging Face `BertModel` keys (no prefix), detached.
    public func checkpointTensors() -> [String: Tensor] { path.checkpointTensors() }
}
