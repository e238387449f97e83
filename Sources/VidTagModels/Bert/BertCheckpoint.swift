import Foundation
import Torch

/// How one checkpoint key is treated when loading into a BERT model.
enum BertKeyMapping: Equatable {
    /// Copied into the parameter of this name (relative to the model's path).
    case parameter(String)
    /// Deliberately not loaded, for the reason given (reported in `BertLoadReport.ignored`).
    case ignored(String)
}

/// The one renaming table for Hugging Face BERT checkpoints (style.md item 2). Every rule that maps a
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
    static func encoder(_ key: String) -> BertKeyMapping {
        let key = renamingSuffixes(key)
        if key.hasPrefix(headPrefix) { return .ignored("task head, not part of the encoder") }
        let name = key.hasPrefix(encoderPrefix) ? String(key.dropFirst(encoderPrefix.count)) : key
        if computedBuffers.contains(name) { return .ignored("buffer that BertModel computes") }
        return .parameter(name)
    }

    /// A key as `BertForMaskedLM` names it (`bert.*`, `cls.predictions.*`).
    static func maskedLM(_ key: String) -> BertKeyMapping {
        let key = renamingSuffixes(key)
        guard key.hasPrefix(headPrefix) else {
            return switch encoder(key) {
            case .parameter(let name): .parameter(encoderPrefix + name)
            case .ignored(let reason): .ignored(reason)
            }
        }
        if key == maskedLMDecoderBias { return .parameter(maskedLMBias) }
        if key == maskedLMDecoderWeight { return .ignored("tied to bert.embeddings.word_embeddings.weight") }
        if key.hasPrefix(nextSentencePrefix) { return .ignored("next-sentence head, not part of BertForMaskedLM") }
        return .parameter(key)
    }
}



enum BertCheckpointLoader {
    /// Loads `tensors` into every parameter under `path`, strictly: each parameter must be given once with its
    /// shape and each key must map to a parameter or be ignored by `mapping` on purpose.
    static func load(_ tensors: [String: Tensor], into path: ParameterPath, mapping: (String) -> BertKeyMapping,
                     source: String) throws -> BertLoadReport {
        let prefix = path.prefix.isEmpty ? "" : path.prefix + "."
        let expected = Set(path.store.names.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) })
        var renamed: [String: (key: String, tensor: Tensor)] = [:]
        var ignored: [String: String] = [:]
        for key in tensors.keys.sorted() {
            switch mapping(key) {
            case .ignored(let reason):
                ignored[key] = reason
            case .parameter(let name):
                if let earlier = renamed[name] {
                    // Two names for one tensor (a key and its alias): keep the one spelled as the parameter.
                    let (kept, dropped) = earlier.key == name ? (earlier.key, key) : (key, earlier.key)
                    ignored[dropped] = "alias of \(kept)"
                    renamed[name] = (kept, tensors[kept]!)
                } else {
                    renamed[name] = (key, tensors[key]!)
                }
            }
        }

        var problems: [String] = []
        for name in expected.sorted() where renamed[name] == nil {
            problems.append("missing key \(prefix)\(name) (model shape \(path.store[prefix + name]!.shape))")
        }
        for name in renamed.keys.sorted() where !expected.contains(name) {
            let (key, tensor) = renamed[name]!
            problems.append("unexpected key \(key) (checkpoint shape \(tensor.shape)), not a parameter of this model")
        }
        for name in renamed.keys.sorted() where expected.contains(name) {
            let (key, tensor) = renamed[name]!
            let modelShape = path.store[prefix + name]!.shape
            if modelShape != tensor.shape {
                problems.append("key \(key): model expects shape \(modelShape), checkpoint has \(tensor.shape)")
            }
        }
        guard problems.isEmpty else {
            var hint = "the checkpoint must come from a BERT with the same config.json"
            if problems.contains(where: { $0.hasPrefix("missing key \(prefix)pooler.") }) {
                hint += "; a checkpoint without pooler.* (e.g. saved by BertForMaskedLM) loads into "
                    + "BertModel(…, addPoolingLayer: false)"
            }
            throw BertLoadError(source: source, problems: problems, hint: hint)
        }
        var prefixed: [String: Tensor] = [:]
        for (name, entry) in renamed { prefixed[prefix + name] = entry.tensor }
        try path.store.load(prefixed, strict: false, source: source)
        return BertLoadReport(loaded: prefixed.count, ignored: ignored)
    }

    /// The parameters under `path`, keyed relative to it (as Hugging Face saves them).
    static func tensors(under path: ParameterPath) -> [String: Tensor] {
        let prefix = path.prefix.isEmpty ? "" : path.prefix + "."
        var result: [String: Tensor] = [:]
        for entry in path.store.all where entry.name.hasPrefix(prefix) {
            result[String(entry.name.dropFirst(prefix.count))] = entry.tensor.detach()
        }
        return result
    }

    static func readSafeTensors(_ url: URL) throws -> [String: Tensor] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw BertLoadError(source: url.path, problems: ["no such file"],
                                hint: "a text encoder folder holds config.json, model.safetensors and vocab.txt")
        }
        return try SafeTensors.load(url)
    }
}

extension BertModel {
    /// Copies a Hugging Face checkpoint's tensors into this model, strictly (see `BertCheckpointKeys`): keys
    /// may carry the `bert.` prefix or none; old `LayerNorm.gamma`/`beta` names are accepted; the
    /// `embeddings.position_ids` buffer and `cls.*` heads are ignored and reported. A missing, unexpected or
    /// mis-shaped key throws `BertLoadError` naming the key and both shapes.
    @discardableResult
    public func load(_ tensors: [String: Tensor], source: String = "checkpoint") throws -> BertLoadReport {
        try BertCheckpointLoader.load(tensors, into: path, mapping: BertCheckpointKeys.encoder, source: source)
    }

    /// Loads a `model.safetensors` file (see `load(_:source:)`).
    @discardableResult
    public func load(contentsOf url: URL) throws -> BertLoadReport {
        try load(BertCheckpointLoader.readSafeTensors(url), source: url.path)
    }

    /// The parameters under their Hugging Face `BertModel` keys (no prefix), detached.
    public func checkpointTensors() -> [String: Tensor] { BertCheckpointLoader.tensors(under: path) }
}
