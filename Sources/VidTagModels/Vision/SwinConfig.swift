import Foundation

/// Swin Transformer's hyper-parameters; the coding keys are exactly those of Hugging Face's `config.json` for
/// `model_type: "swin"`. Absent keys take Hugging Face's `SwinConfig` defaults (Swin-Tiny, patch 4, window 7,
/// 224 px); keys this model does not use (`out_features`, `stage_names`, `encoder_stride`, …) are ignored.
public struct SwinConfig: Codable, Sendable, Equatable {
    public var imageSize = ImageSize(square: 224)
    public var patchSize = ImageSize(square: 4)
    public var numChannels: Int = 3
    public var embedDim: Int = 96
    /// Blocks per stage.
    public var depths: [Int] = [2, 2, 6, 2]
    /// Attention heads per stage.
    public var numHeads: [Int] = [3, 6, 12, 24]
    public var windowSize: Int = 7
    public var mlpRatio: Double = 4
    public var qkvBias: Bool = true
    public var hiddenDropoutProb: Double = 0
    public var attentionProbsDropoutProb: Double = 0
    /// Stochastic depth: block i of all drops its attention branch with probability rate · i / (blocks − 1).
    public var dropPathRate: Double = 0.1
    public var hiddenAct: BertActivation = .gelu
    public var useAbsoluteEmbeddings: Bool = false
    public var initializerRange: Double = 0.02
    public var layerNormEps: Double = 1e-5

    enum CodingKeys: String, CodingKey {
        case imageSize = "image_size"
        case patchSize = "patch_size"
        case numChannels = "num_channels"
        case embedDim = "embed_dim"
        case depths
        case numHeads = "num_heads"
        case windowSize = "window_size"
        case mlpRatio = "mlp_ratio"
        case qkvBias = "qkv_bias"
        case hiddenDropoutProb = "hidden_dropout_prob"
        case attentionProbsDropoutProb = "attention_probs_dropout_prob"
        case dropPathRate = "drop_path_rate"
        case hiddenAct = "hidden_act"
        case useAbsoluteEmbeddings = "use_absolute_embeddings"
        case initializerRange = "initializer_range"
        case layerNormEps = "layer_norm_eps"
        case modelType = "model_type"
    }

    /// Swin-Tiny (Hugging Face's defaults, `microsoft/swin-tiny-patch4-window7-224`).
    public init() {}

    /// Channels of stage `stage` (0-based): embed_dim · 2^stage.
    public func stageSize(_ stage: Int) -> Int { embedDim << stage }
    /// Channels of the last stage (Hugging Face's `hidden_size`), the width of the pooled vector.
    public var hiddenSize: Int { stageSize(depths.count - 1) }
    /// Hidden width of the MLP of a block with `channels` channels: int(mlp_ratio · channels).
    public func mlpSize(_ channels: Int) -> Int { Int(mlpRatio * Double(channels)) }

    public init(from decoder: Decoder) throws {
        let keys = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try keys.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        imageSize = try VisionConfigCoding.size(keys, .imageSize, imageSize)
        patchSize = try VisionConfigCoding.size(keys, .patchSize, patchSize)
        numChannels = try value(.numChannels, numChannels)
        embedDim = try value(.embedDim, embedDim)
        depths = try value(.depths, depths)
        numHeads = try value(.numHeads, numHeads)
        windowSize = try value(.windowSize, windowSize)
        mlpRatio = try value(.mlpRatio, mlpRatio)
        qkvBias = try value(.qkvBias, qkvBias)
        hiddenDropoutProb = try value(.hiddenDropoutProb, hiddenDropoutProb)
        attentionProbsDropoutProb = try value(.attentionProbsDropoutProb, attentionProbsDropoutProb)
        dropPathRate = try value(.dropPathRate, dropPathRate)
        hiddenAct = try VisionConfigCoding.activation(try value(.hiddenAct, hiddenAct.rawValue))
        useAbsoluteEmbeddings = try value(.useAbsoluteEmbeddings, useAbsoluteEmbeddings)
        initializerRange = try value(.initializerRange, initializerRange)
        layerNormEps = try value(.layerNormEps, layerNormEps)
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var keys = encoder.container(keyedBy: CodingKeys.self)
        try keys.encode("swin", forKey: .modelType)
        try VisionConfigCoding.encode(imageSize, &keys, .imageSize)
        try VisionConfigCoding.encode(patchSize, &keys, .patchSize)
        try keys.encode(numChannels, forKey: .numChannels)
        try keys.encode(embedDim, forKey: .embedDim)
        try keys.encode(depths, forKey: .depths)
        try keys.encode(numHeads, forKey: .numHeads)
        try keys.encode(windowSize, forKey: .windowSize)
        try keys.encode(mlpRatio, forKey: .mlpRatio)
        try keys.encode(qkvBias, forKey: .qkvBias)
        try keys.encode(hiddenDropoutProb, forKey: .hiddenDropoutProb)
        try keys.encode(attentionProbsDropoutProb, forKey: .attentionProbsDropoutProb)
        try keys.encode(dropPathRate, forKey: .dropPathRate)
        try keys.encode(hiddenAct, forKey: .hiddenAct)
        try keys.encode(useAbsoluteEmbeddings, forKey: .useAbsoluteEmbeddings)
        try keys.encode(initializerRange, forKey: .initializerRange)
        try keys.encode(layerNormEps, forKey: .layerNormEps)
    }

    /// Checks positive sizes, one head count per stage and heads dividing every stage's channels.
    public func validate() throws {
        try VisionConfigCoding.positive([
            ("embed_dim", embedDim), ("window_size", windowSize), ("num_channels", numChannels),
            ("image_size", min(imageSize.height, imageSize.width)), ("patch_size", min(patchSize.height, patchSize.width)),
        ] + depths.map { ("depths", $0) })
        guard !depths.isEmpty, depths.count == numHeads.count else {
            throw FrameEncoderConfigError(
                "depths \(depths) and num_heads \(numHeads) must name the same number (≥ 1) of stages")
        }
        for (stage, heads) in numHeads.enumerated() where heads <= 0 || stageSize(stage) % heads != 0 {
            throw FrameEncoderConfigError(
                "stage \(stage) has \(stageSize(stage)) channels (embed_dim · 2^\(stage)), not a multiple of "
                    + "num_heads[\(stage)] = \(heads)")
        }
        guard mlpRatio > 0 else { throw FrameEncoderConfigError("mlp_ratio is \(mlpRatio); expected a positive number") }
    }

    /// Reads a Hugging Face `config.json`; every error names the file.
    public static func load(contentsOf url: URL) throws -> SwinConfig {
        try VisionConfigCoding.load(SwinConfig.self, contentsOf: url)
    }
}
