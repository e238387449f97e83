import Foundation

/// ViT's hyper-parameters; the coding keys are exactly those of Hugging Face's `config.json` for
/// `model_type: "vit"`. Absent keys take Hugging Face's `ViTConfig` defaults (ViT-B/16 at 224 px); keys this
/// model does not use are ignored.
public struct ViTConfig: Codable, Sendable, Equatable {
    public var hiddenSize: Int = 768
    public var numHiddenLayers: Int = 12
    public var numAttentionHeads: Int = 12
    public var intermediateSize: Int = 3072
    public var hiddenAct: BertActivation = .gelu
    public var hiddenDropoutProb: Double = 0
    public var attentionProbsDropoutProb: Double = 0
    /// The standard deviation of the (truncated) normal initialisation.
    public var initializerRange: Double = 0.02
    public var layerNormEps: Double = 1e-12
    public var imageSize = ImageSize(square: 224)
    public var patchSize = ImageSize(square: 16)
    public var numChannels: Int = 3
    public var qkvBias: Bool = true
    /// Output width of the optional pooler (dense + `pooler_act`); nil means `hidden_size`.
    public var poolerOutputSize: Int?
    /// Only "tanh" is supported.
    public var poolerAct: String = "tanh"

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case intermediateSize = "intermediate_size"
        case hiddenAct = "hidden_act"
        case hiddenDropoutProb = "hidden_dropout_prob"
        case attentionProbsDropoutProb = "attention_probs_dropout_prob"
        case initializerRange = "initializer_range"
        case layerNormEps = "layer_norm_eps"
        case imageSize = "image_size"
        case patchSize = "patch_size"
        case numChannels = "num_channels"
        case qkvBias = "qkv_bias"
        case poolerOutputSize = "pooler_output_size"
        case poolerAct = "pooler_act"
        case modelType = "model_type"
    }

    /// ViT-B/16 at 224 px (Hugging Face's defaults, `google/vit-base-patch16-224-in21k`).
    public init() {}

    /// ViT-B/32 at 224 px.
    public static var base32: ViTConfig {
        var config = ViTConfig()
        config.patchSize = ImageSize(square: 32)
        return config
    }

    public var headSize: Int { hiddenSize / numAttentionHeads }
    /// Patches along the height and the width at `imageSize`.
    public var grid: ImageSize {
        ImageSize(height: imageSize.height / patchSize.height, width: imageSize.width / patchSize.width)
    }

    public init(from decoder: Decoder) throws {
        let keys = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try keys.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        hiddenSize = try value(.hiddenSize, hiddenSize)
        numHiddenLayers = try value(.numHiddenLayers, numHiddenLayers)
        numAttentionHeads = try value(.numAttentionHeads, numAttentionHeads)
        intermediateSize = try value(.intermediateSize, intermediateSize)
        hiddenAct = try VisionConfigCoding.activation(try value(.hiddenAct, hiddenAct.rawValue))
        hiddenDropoutProb = try value(.hiddenDropoutProb, hiddenDropoutProb)
        attentionProbsDropoutProb = try value(.attentionProbsDropoutProb, attentionProbsDropoutProb)
        initializerRange = try value(.initializerRange, initializerRange)
        layerNormEps = try value(.layerNormEps, layerNormEps)
        imageSize = try VisionConfigCoding.size(keys, .imageSize, imageSize)
        patchSize = try VisionConfigCoding.size(keys, .patchSize, patchSize)
        numChannels = try value(.numChannels, numChannels)
        qkvBias = try value(.qkvBias, qkvBias)
        poolerOutputSize = try keys.decodeIfPresent(Int.self, forKey: .poolerOutputSize)
        poolerAct = try value(.poolerAct, poolerAct)
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var keys = encoder.container(keyedBy: CodingKeys.self)
        try keys.encode("vit", forKey: .modelType)
        try keys.encode(hiddenSize, forKey: .hiddenSize)
        try keys.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try keys.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try keys.encode(intermediateSize, forKey: .intermediateSize)
        try keys.encode(hiddenAct, forKey: .hiddenAct)
        try keys.encode(hiddenDropoutProb, forKey: .hiddenDropoutProb)
        try keys.encode(attentionProbsDropoutProb, forKey: .attentionProbsDropoutProb)
        try keys.encode(initializerRange, forKey: .initializerRange)
        try keys.encode(layerNormEps, forKey: .layerNormEps)
        try VisionConfigCoding.encode(imageSize, &keys, .imageSize)
        try VisionConfigCoding.encode(patchSize, &keys, .patchSize)
        try keys.encode(numChannels, forKey: .numChannels)
        try keys.encode(qkvBias, forKey: .qkvBias)
        try keys.encodeIfPresent(poolerOutputSize, forKey: .poolerOutputSize)
        try keys.encode(poolerAct, forKey: .poolerAct)
    }

    /// Checks positive sizes, heads dividing the hidden size and patches tiling the image.
    public func validate() throws {
        try VisionConfigCoding.positive([
            ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
            ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
            ("image_size", min(imageSize.height, imageSize.width)), ("patch_size", min(patchSize.height, patchSize.width)),
            ("num_channels", numChannels),
        ])
        guard hiddenSize % numAttentionHeads == 0 else {
            throw FrameEncoderConfigError(
                "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard imageSize.height % patchSize.height == 0, imageSize.width % patchSize.width == 0 else {
            throw FrameEncoderConfigError("image_size \(imageSize) is not a multiple of patch_size \(patchSize)")
        }
        guard poolerAct == "tanh" else {
            throw FrameEncoderConfigError("pooler_act \"\(poolerAct)\" is not supported; expected \"tanh\"")
        }
    }

    /// Reads a Hugging Face `config.json`; every error names the file.
    public static func load(contentsOf url: URL) throws -> ViTConfig {
        try VisionConfigCoding.load(ViTConfig.self, contentsOf: url)
    }
}
