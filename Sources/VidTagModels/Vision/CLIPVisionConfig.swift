import Foundation

/// CLIP's vision tower hyper-parameters; the coding keys are exactly those of Hugging Face's `config.json` for
/// `model_type: "clip_vision_model"` (and of a CLIPModel's `vision_config`). Absent keys take Hugging Face's
/// `CLIPVisionConfig` defaults (ViT-B/32 at 224 px); keys this model does not use are ignored.
public struct CLIPVisionConfig: Codable, Sendable, Equatable {
    public var hiddenSize: Int = 768
    public var intermediateSize: Int = 3072
    /// Width of `visual_projection` (CLIPVisionModelWithProjection / CLIPModel).
    public var projectionDim: Int = 512
    public var numHiddenLayers: Int = 12
    public var numAttentionHeads: Int = 12
    public var numChannels: Int = 3
    public var imageSize: Int = 224
    public var patchSize: Int = 32
    public var hiddenAct: BertActivation = .quickGelu
    public var layerNormEps: Double = 1e-5
    public var attentionDropout: Double = 0
    public var initializerRange: Double = 0.02
    /// Scales every initialisation standard deviation (Hugging Face's `initializer_factor`).
    public var initializerFactor: Double = 1

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case projectionDim = "projection_dim"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numChannels = "num_channels"
        case imageSize = "image_size"
        case patchSize = "patch_size"
        case hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps"
        case attentionDropout = "attention_dropout"
        case initializerRange = "initializer_range"
        case initializerFactor = "initializer_factor"
        case modelType = "model_type"
    }

    /// CLIP ViT-B/32 (Hugging Face's defaults, `openai/clip-vit-base-patch32`).
    public init() {}

    /// CLIP ViT-B/16 (`openai/clip-vit-base-patch16`).
    public static var base16: CLIPVisionConfig {
        var config = CLIPVisionConfig()
        config.patchSize = 16
        return config
    }

    public var headSize: Int { hiddenSize / numAttentionHeads }
    /// Patches along one side at `imageSize`.
    public var gridSide: Int { imageSize / patchSize }

    public init(from decoder: Decoder) throws {
        let keys = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try keys.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        hiddenSize = try value(.hiddenSize, hiddenSize)
        intermediateSize = try value(.intermediateSize, intermediateSize)
        projectionDim = try value(.projectionDim, projectionDim)
        numHiddenLayers = try value(.numHiddenLayers, numHiddenLayers)
        numAttentionHeads = try value(.numAttentionHeads, numAttentionHeads)
        numChannels = try value(.numChannels, numChannels)
        imageSize = try value(.imageSize, imageSize)
        patchSize = try value(.patchSize, patchSize)
        hiddenAct = try VisionConfigCoding.activation(try value(.hiddenAct, hiddenAct.rawValue))
        layerNormEps = try value(.layerNormEps, layerNormEps)
        attentionDropout = try value(.attentionDropout, attentionDropout)
        initializerRange = try value(.initializerRange, initializerRange)
        initializerFactor = try value(.initializerFactor, initializerFactor)
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var keys = encoder.container(keyedBy: CodingKeys.self)
        try keys.encode("clip_vision_model", forKey: .modelType)
        try keys.encode(hiddenSize, forKey: .hiddenSize)
        try keys.encode(intermediateSize, forKey: .intermediateSize)
        try keys.encode(projectionDim, forKey: .projectionDim)
        try keys.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try keys.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try keys.encode(numChannels, forKey: .numChannels)
        try keys.encode(imageSize, forKey: .imageSize)
        try keys.encode(patchSize, forKey: .patchSize)
        try keys.encode(hiddenAct, forKey: .hiddenAct)
        try keys.encode(layerNormEps, forKey: .layerNormEps)
        try keys.encode(attentionDropout, forKey: .attentionDropout)
        try keys.encode(initializerRange, forKey: .initializerRange)
        try keys.encode(initializerFactor, forKey: .initializerFactor)
    }

    /// Checks positive sizes, heads dividing the hidden size and patches tiling the image.
    public func validate() throws {
        try VisionConfigCoding.positive([
            ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize), ("projection_dim", projectionDim),
            ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
            ("num_channels", numChannels), ("image_size", imageSize), ("patch_size", patchSize),
        ])
        guard hiddenSize % numAttentionHeads == 0 else {
            throw FrameEncoderConfigError(
                "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard imageSize % patchSize == 0 else {
            throw FrameEncoderConfigError("image_size \(imageSize) is not a multiple of patch_size \(patchSize)")
        }
    }

    /// Reads a Hugging Face `config.json` of a CLIPVisionModel; every error names the file. (A whole CLIPModel's
    /// config loads through `FrameEncoderConfig.load`.)
    public static func load(contentsOf url: URL) throws -> CLIPVisionConfig {
        try VisionConfigCoding.load(CLIPVisionConfig.self, contentsOf: url)
    }
}
