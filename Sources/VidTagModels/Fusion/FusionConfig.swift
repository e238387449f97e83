import Foundation
import Torch

/// The fusion model families vidtag builds: a model folder's `model_type`, and `model.kind` of a run.
public enum ModelKind: String, Codable, Sendable, CaseIterable {
    /// Frame vectors projected to BERT's width beside the text tokens, one BERT over both (VisualBERT / UniBERT).
    case singleStream = "single_stream"
    /// Text and frames encoded apart (BERT; a transformer over the frame vectors), then fusion layers in which
    /// the text attends to the frames (ALBEF / LXMERT style).
    case dualStream = "dual_stream"
    /// The challenge's official baseline: BERT [CLS] of the text, NeXtVLAD + SE over the frames, fused.
    case baseline
}

/// How the single-stream model pools its output sequence.
public enum Pooling: String, Codable, Sendable, CaseIterable {
    /// The first ([CLS]) position.
    case cls
    /// The masked mean over text and frame positions.
    case mean
}

/// The settings of a fusion model, saved as `config.json` in a model folder beside the BERT settings
/// (`text_config`), so that a folder alone rebuilds its model.
public struct FusionConfig: Codable, Sendable, Equatable {
    public var modelType: ModelKind
    public var modalities: Modalities
    /// Level-2 classes.
    public var classes: Int
    /// Width of a frame feature vector.
    public var featureSize: Int
    public var maxFrames: Int
    /// Single-stream: positions reserved for the text (its longest encoding); frame k sits at position
    /// `text_positions + k` and the closing separator after the frames, whatever the text's padding.
    public var textPositions: Int
    /// The `[SEP]` id of the vocabulary (the single-stream closing separator).
    public var separatorTokenId: Int
    /// Single-stream pooling.
    public var pooling: Pooling
    public var dropout: Double
    /// Dropout samples in the classifier head (multi-sample dropout when > 1).
    public var headSamples: Int
    /// Whether a classifier on the visual branch alone (the auxiliary video head) exists.
    public var videoHead: Bool
    public var nextvladClusters: Int
    public var nextvladGroups: Int
    public var nextvladExpansion: Int
    public var nextvladOutput: Int
    public var fusionSize: Int
    public var seReduction: Int
    /// Dual-stream: BERT layers of the video tower, and fusion layers (text attending to frames) after the
    /// towers. Absent from configs written before the dual-stream model (decoded as 2 and 2).
    public var videoLayers: Int
    public var fusionLayers: Int
    public var textConfig: BertConfig
    /// Set when the model reads raw frames through a frame encoder (end to end); its Hugging Face
    /// config.json and preprocessor_config.json sit in the model folder's `frame_encoder/`.
    public var frameEncoder: FrameEncoderSpec?

    public init(modelType: ModelKind, modalities: Modalities, classes: Int, featureSize: Int, maxFrames: Int,
                textPositions: Int, separatorTokenId: Int, pooling: Pooling = .mean, dropout: Double = 0.1, headSamples: Int = 1, videoHead: Bool = false,
                nextvladClusters: Int = 64, nextvladGroups: Int = 8, nextvladExpansion: Int = 2,
                nextvladOutput: Int = 1024, fusionSize: Int = 512, seReduction: Int = 8,
                videoLayers: Int = FusionConfig.defaultVideoLayers, fusionLayers: Int = FusionConfig.defaultFusionLayers,
                textConfig: BertConfig, frameEncoder: FrameEncoderSpec? = nil) {
        self.modelType = modelType
        self.modalities = modalities
        self.classes = classes
        self.featureSize = featureSize
        self.maxFrames = maxFrames
        self.textPositions = textPositions
        self.separatorTokenId = separatorTokenId
        self.pooling = pooling
        self.dropout = dropout
        self.headSamples = headSamples
        self.videoHead = videoHead
        self.nextvladClusters = nextvladClusters
        self.nextvladGroups = nextvladGroups
        self.nextvladExpansion = nextvladExpansion
        self.nextvladOutput = nextvladOutput
        self.fusionSize = fusionSize
        self.seReduction = seReduction
        self.videoLayers = videoLayers
        self.fusionLayers = fusionLayers
        self.textConfig = textConfig
        self.frameEncoder = frameEncoder
    }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", modalities, classes, featureSize = "feature_size", maxFrames = "max_frames"
        case textPositions = "text_positions", separatorTokenId = "separator_token_id"
        case pooling, dropout, headSamples = "head_samples", videoHead = "video_head"
        case nextvladClusters = "nextvlad_clusters", nextvladGroups = "nextvlad_groups"
        case nextvladExpansion = "nextvlad_expansion", nextvladOutput = "nextvlad_output"
        case fusionSize = "fusion_size", seReduction = "se_reduction", textConfig = "text_config"
        case frameEncoder = "frame_encoder", videoLayers = "video_layers", fusionLayers = "fusion_layers"
    }

    public static let defaultVideoLayers = 2
    public static let defaultFusionLayers = 2

    /// Every key is required but `video_layers` and `fusion_layers` (newer than the first model folders)
    /// and `frame_encoder`.
    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys) throws -> T { try keys.decode(T.self, forKey: key) }
        self.init(
            modelType: try value(.modelType), modalities: try value(.modalities), classes: try value(.classes),
            featureSize: try value(.featureSize), maxFrames: try value(.maxFrames), textPositions: try value(.textPositions),
            separatorTokenId: try value(.separatorTokenId), pooling: try value(.pooling), dropout: try value(.dropout),
            headSamples: try value(.headSamples), videoHead: try value(.videoHead),
            nextvladClusters: try value(.nextvladClusters), nextvladGroups: try value(.nextvladGroups),
            nextvladExpansion: try value(.nextvladExpansion), nextvladOutput: try value(.nextvladOutput),
            fusionSize: try value(.fusionSize), seReduction: try value(.seReduction),
            videoLayers: try keys.decodeIfPresent(Int.self, forKey: .videoLayers) ?? Self.defaultVideoLayers,
            fusionLayers: try keys.decodeIfPresent(Int.self, forKey: .fusionLayers) ?? Self.defaultFusionLayers,
            textConfig: try value(.textConfig), frameEncoder: try keys.decodeIfPresent(FrameEncoderSpec.self, forKey: .frameEncoder))
    }

    /// The `model_type` values of vidtag model folders.
    public static var modelTypes: [String] { ModelKind.allCases.map(\.rawValue) }

    /// Builds the model this config describes, initialised from `store`'s seeded generator.
    /// - frameEncoder: the encoder's config when `frame_encoder` is set (raw frames end to end).
    public func makeModel(store: ParameterStore, frameEncoder: FrameEncoderConfig? = nil) throws -> VideoClassifier {
        var encoder: (any FrameEncoder)?
        if let spec = self.frameEncoder {
            guard let frameEncoder else {
                throw FusionConfigError("this model reads raw frames through a frame encoder; its config.json is missing")
            }
            encoder = frameEncoder.makeEncoder(store.root(FrameEncoderSpec.prefix), spec: spec)
            guard encoder!.outputSize == featureSize else {
                throw FusionConfigError("feature_size \(featureSize) differs from the frame encoder's output \(encoder!.outputSize)")
            }
        }
        if modelType == .baseline, headSamples > 1 {
            throw FusionConfigError("head_samples \(headSamples) has no effect on the baseline: its classifier has no "
                + "dropout (the official baseline drops out before the fusion layer); use 1, or the single-stream model")
        }
        switch modelType {
        case .singleStream: return SingleStreamClassifier(store: store, config: self, frameEncoder: encoder)
        case .dualStream: return DualStreamClassifier(store: store, config: self, frameEncoder: encoder)
        case .baseline: return BaselineClassifier(store: store, config: self, frameEncoder: encoder)
        }
    }

    public static func load(contentsOf url: URL) throws -> FusionConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FusionConfigError("\(url.path): cannot read (\(error.localizedDescription)); a vidtag model folder holds config.json, model.safetensors and vocab.txt")
        }
        let modelType = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["model_type"] as? String
        if let modelType, !modelTypes.contains(modelType) {
            let hint = modelType == "bert"
                ? "it is a Hugging Face BERT config (a text encoder folder): pass that folder as model.text_encoder, "
                    + "and a model folder written by `vidtag train` to evaluate / predict"
                : "vidtag model folders are written by `vidtag train`"
            throw FusionConfigError("\(url.path) has model_type '\(modelType)', not one of \(modelTypes.joined(separator: ", ")); \(hint)")
        }
        do {
            return try JSONDecoder().decode(FusionConfig.self, from: data)
        } catch {
            throw FusionConfigError("\(url.path) is not a vidtag model config (model_type, classes, text_config, …): \(error)")
        }
    }

    public func save(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(self), to: url)
    }
}

public struct FusionConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
