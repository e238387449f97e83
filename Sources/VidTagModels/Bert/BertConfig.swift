import Foundation
import Torch

/// The activation of BERT's feed-forward block and MLM transform, named as Hugging Face's `hidden_act`.
public enum BertActivation: String, Codable, Sendable, CaseIterable {
    /// The exact GELU, x · Φ(x) (BERT's own).
    case gelu
    /// The tanh approximation of GELU (`gelu_new`, `gelu_pytorch_tanh` and `gelu_fast` compute the same).
    case geluNew = "gelu_new"
    case geluPytorchTanh = "gelu_pytorch_tanh"
    case geluFast = "gelu_fast"
    /// x · sigmoid(1.702 x).
    case quickGelu = "quick_gelu"
    case relu
    case silu
    case swish
    case tanh

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .gelu: x.gelu()
        case .geluNew, .geluPytorchTanh, .geluFast: x.gelu(approximate: true)
        case .quickGelu: x.quickGelu()
        case .relu: x.relu()
        case .silu, .swish: x.silu()
        case .tanh: x.tanh()
        }
    }
}

/// A problem with a BERT `config.json`: names the file (when known), the key, what was expected and a hint.
public struct BertConfigError: Error, CustomStringConvertible, Sendable {
    public var file: String?
    public let problem: String

    public init(file: String? = nil, _ problem: String) {
        self.file = file
        self.problem = problem
    }

    public var description: String { file.map { "\($0): \(problem)" } ?? problem }
}

/// BERT's hyper-parameters; the coding keys are exactly those of Hugging Face's `config.json` for
/// `model_type: "bert"`. Keys that are absent take Hugging Face's `BertConfig` defaults (BERT-base); keys this
/// model does not use (`architectures`, `transformers_version`, `use_cache`, …) are ignored.
public struct BertConfig: Codable, Sendable, Equatable {
    public var vocabSize: Int = 30522
    public var hiddenSize: Int = 768
    public var numHiddenLayers: Int = 12
    public var numAttentionHeads: Int = 12
    public var intermediateSize: Int = 3072
    public var hiddenAct: BertActivation = .gelu
    public var hiddenDropoutProb: Double = 0.1
    public var attentionProbsDropoutProb: Double = 0.1
    public var maxPositionEmbeddings: Int = 512
    public var typeVocabSize: Int = 2
    /// The standard deviation of the normal initialisation of Linear and Embedding weights.
    public var initializerRange: Double = 0.02
    public var layerNormEps: Double = 1e-12
    /// The padding token, whose word-embedding row is zero at initialisation and gets no gradient;
    /// `null` in config.json gives nil (no padding row).
    public var padTokenId: Int? = 0
    /// Only "absolute" (learned position embeddings) is supported.
    public var positionEmbeddingType: String = "absolute"

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case intermediateSize = "intermediate_size"
        case hiddenAct = "hidden_act"
        case hiddenDropoutProb = "hidden_dropout_prob"
        case attentionProbsDropoutProb = "attention_probs_dropout_prob"
        case maxPositionEmbeddings = "max_position_embeddings"
        case typeVocabSize = "type_vocab_size"
        case initializerRange = "initializer_range"
        case layerNormEps = "layer_norm_eps"
        case padTokenId = "pad_token_id"
        case positionEmbeddingType = "position_embedding_type"
        case modelType = "model_type"
    }

    /// BERT-base (Hugging Face's defaults), with any field changed by the caller afterwards.
    public init() {}

    /// The shape of `bert-base-chinese` (and the Chinese RoBERTa-wwm / MacBERT base models).
    public static var baseChinese: BertConfig {
        var config = BertConfig()
        config.vocabSize = 21128
        return config
    }

    public var headSize: Int { hiddenSize / numAttentionHeads }

    public init(from decoder: Decoder) throws {
        let keys = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try keys.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        vocabSize = try value(.vocabSize, vocabSize)
        hiddenSize = try value(.hiddenSize, hiddenSize)
        numHiddenLayers = try value(.numHiddenLayers, numHiddenLayers)
        numAttentionHeads = try value(.numAttentionHeads, numAttentionHeads)
        intermediateSize = try value(.intermediateSize, intermediateSize)
        let activation = try value(.hiddenAct, hiddenAct.rawValue)
        guard let known = BertActivation(rawValue: activation) else {
            throw BertConfigError(
                "hidden_act \"\(activation)\" is not supported; expected one of "
                    + BertActivation.allCases.map(\.rawValue).joined(separator: ", ")
                    + " (hint: a checkpoint trained with another activation needs it added to BertActivation)")
        }
        hiddenAct = known
        hiddenDropoutProb = try value(.hiddenDropoutProb, hiddenDropoutProb)
        attentionProbsDropoutProb = try value(.attentionProbsDropoutProb, attentionProbsDropoutProb)
        maxPositionEmbeddings = try value(.maxPositionEmbeddings, maxPositionEmbeddings)
        typeVocabSize = try value(.typeVocabSize, typeVocabSize)
        initializerRange = try value(.initializerRange, initializerRange)
        layerNormEps = try value(.layerNormEps, layerNormEps)
        padTokenId = keys.contains(.padTokenId) ? try keys.decodeIfPresent(Int.self, forKey: .padTokenId) : 0
        positionEmbeddingType = try value(.positionEmbeddingType, positionEmbeddingType)
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var keys = encoder.container(keyedBy: CodingKeys.self)
        try keys.encode("bert", forKey: .modelType)
        try keys.encode(vocabSize, forKey: .vocabSize)
        try keys.encode(hiddenSize, forKey: .hiddenSize)
        try keys.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try keys.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try keys.encode(intermediateSize, forKey: .intermediateSize)
        try keys.encode(hiddenAct, forKey: .hiddenAct)
        try keys.encode(hiddenDropoutProb, forKey: .hiddenDropoutProb)
        try keys.encode(attentionProbsDropoutProb, forKey: .attentionProbsDropoutProb)
        try keys.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try keys.encode(typeVocabSize, forKey: .typeVocabSize)
        try keys.encode(initializerRange, forKey: .initializerRange)
        try keys.encode(layerNormEps, forKey: .layerNormEps)
        try keys.encode(padTokenId, forKey: .padTokenId)
        try keys.encode(positionEmbeddingType, forKey: .positionEmbeddingType)
    }

    /// Checks what the model relies on: supported position embeddings, heads dividing the hidden size,
    /// positive sizes, dropout probabilities in [0, 1).
    public func validate() throws {
        guard positionEmbeddingType == "absolute" else {
            throw BertConfigError(
                "position_embedding_type \"\(positionEmbeddingType)\" is not supported; expected \"absolute\" "
                    + "(hint: relative_key models need relative attention, which vidtag's BERT does not have)")
        }
        let sizes = [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                     ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
                     ("max_position_embeddings", maxPositionEmbeddings), ("type_vocab_size", typeVocabSize)]
        for (key, size) in sizes where size <= 0 {
            throw BertConfigError("\(key) is \(size); expected a positive integer")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw BertConfigError(
                "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads); "
                    + "each head needs hidden_size / num_attention_heads dimensions")
        }
        for (key, p) in [("hidden_dropout_prob", hiddenDropoutProb),
                         ("attention_probs_dropout_prob", attentionProbsDropoutProb)] where !(0..<1).contains(p) {
            throw BertConfigError("\(key) is \(p); expected a probability in [0, 1)")
        }
        if let padTokenId, !(0..<vocabSize).contains(padTokenId) {
            throw BertConfigError("pad_token_id \(padTokenId) is outside the vocabulary (vocab_size \(vocabSize))")
        }
    }

    /// Reads a Hugging Face `config.json`; every error names the file.
    public static func load(contentsOf url: URL) throws -> BertConfig {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw BertConfigError(file: url.path, "cannot read the file (\(error.localizedDescription))")
        }
        do {
            return try JSONDecoder().decode(BertConfig.self, from: data)
        } catch var error as BertConfigError {
            error.file = url.path
            throw error
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw BertConfigError(file: url.path, "key \(key): expected \(type) (\(context.debugDescription))")
        } catch {
            throw BertConfigError(
                file: url.path, "not a valid config.json (\(error)); hint: it must be a JSON object of BERT settings")
        }
    }

    /// Writes the config as Hugging Face's `config.json` (sorted keys, `model_type: "bert"`).
    public func save(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: url)
    }
}
