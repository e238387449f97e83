import Foundation
import Torch
import VidTagData
import VidTagModels

/// What the run's settings mean for the model and its inputs: the one place that turns `RunConfig` into a
/// `FusionConfig`, text budgets and a frame source.
extension RunConfig {
    /// Token budgets of the text segments.
    public var budgets: TextBudgets {
        TextBudgets(title: data.titleTokens, asr: data.asrTokens, ocr: data.ocrTokens)
    }

    /// The BERT of the text side: the pretrained folder's config, or one built from the `model.*` settings.
    public func textConfig(vocabularySize: Int) throws -> BertConfig {
        if !model.textEncoder.isEmpty {
            return try TextEncoderFolder(URL(fileURLWithPath: model.textEncoder)).config()
        }
        var text = BertConfig()
        text.vocabSize = vocabularySize
        text.hiddenSize = model.hidden
        text.numHiddenLayers = model.layers
        text.numAttentionHeads = model.heads
        text.intermediateSize = model.intermediate
        text.maxPositionEmbeddings = model.maxPositions
        text.hiddenDropoutProb = model.dropout
        text.attentionProbsDropoutProb = model.dropout
        return text
    }

    /// The fusion model these settings describe.
    /// - frameEncoder: the pretrained frame encoder's rebuild description and output width (raw frames).
    public func fusionConfig(classes: Int, vocabularySize: Int, separatorTokenId: Int,
                             frameEncoder: (spec: FrameEncoderSpec, outputSize: Int)? = nil) throws -> FusionConfig {
        let text = try textConfig(vocabularySize: vocabularySize)
        let positionsNeeded = budgets.maxSequenceLength + data.maxFrames + 1
        if model.kind == .singleStream, positionsNeeded > text.maxPositionEmbeddings {
            throw ConfigError("the single-stream sequence needs \(positionsNeeded) positions (text \(budgets.maxSequenceLength) "
                + "+ \(data.maxFrames) frames + [SEP]) but the BERT has \(text.maxPositionEmbeddings): lower the "
                + "data.*_tokens budgets or data.max_frames")
        }
        if budgets.maxSequenceLength > text.maxPositionEmbeddings {
            throw ConfigError("the text needs \(budgets.maxSequenceLength) positions but the BERT has "
                + "\(text.maxPositionEmbeddings): lower the data.*_tokens budgets")
        }
        return FusionConfig(
            modelType: model.kind, modalities: model.modalities, classes: classes,
            featureSize: frameEncoder?.outputSize ?? data.featureSize, maxFrames: data.maxFrames,
            textPositions: budgets.maxSequenceLength, separatorTokenId: separatorTokenId, pooling: model.pooling,
            dropout: model.dropout, headSamples: tricks.headSamples, videoHead: tricks.videoLossWeight > 0,
            nextvladClusters: model.nextvladClusters, nextvladGroups: model.nextvladGroups,
            nextvladExpansion: model.nextvladExpansion, nextvladOutput: model.nextvladOutput,
            fusionSize: model.fusionSize, seReduction: model.seReduction, videoLayers: model.videoLayers,
            fusionLayers: model.fusionLayers, textConfig: text,
            frameEncoder: frameEncoder?.spec)
    }

    /// How samples read their frames: feature vectors, or JPEGs prepared as the frame encoder wants them.
    public func frameSource() throws -> FrameSource {
        switch (data.frameSource, model.frameEncoder.isEmpty) {
        case (.features, true):
            return .features(dimension: data.featureSize)
        case (.frames, false):
            let folder = FrameEncoderFolder(URL(fileURLWithPath: model.frameEncoder))
            return .pixels(try FramePreprocessing(encoder: try folder.preprocessing(), fallbackSize: ImageSize(square: 224)))
        case (.frames, true):
            throw ConfigError("data.frame_source=frames trains on raw JPEG frames, which needs a frame encoder: "
                + "--set model.frame_encoder=DIR (a ViT / CLIP / Swin folder), or use features (vidtag extract-features)")
        case (.features, false):
            throw ConfigError("model.frame_encoder is set but data.frame_source is 'features': set data.frame_source=frames "
                + "to train the encoder end to end on zip_frames")
        }
    }

    /// The data settings a model trained with these settings keeps in its folder (prediction reuses them).
    func modelDataSettings(featureSize: Int, fold: Int?) -> ModelDataSettings {
        ModelDataSettings(budgets: budgets, maxFrames: data.maxFrames, frameSource: data.frameSource,
                          featureSize: featureSize, heldOutFold: fold)
    }
}
