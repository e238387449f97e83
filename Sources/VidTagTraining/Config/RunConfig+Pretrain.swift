import Foundation
import Torch
import VidTagData
import VidTagModels

extension RunConfig {
    /// Self-supervised pretraining (`vidtag pretrain`): the splits read (labels never are) and each task's
    /// weight (0: off) and share. docs/config.md explains each key; docs/pretraining.md the tasks.
    public struct PretrainSettings: Codable, Sendable, Equatable {
        /// Splits read end to end in each epoch.
        public var splits = ["unlabeled", "labeled", "test_a"]
        /// Masked language modelling: weight, and the share of text positions chosen (80 % [MASK], 10 %
        /// random, 10 % kept).
        public var mlmWeight = 1.0
        public var mlmProbability = 0.15
        /// Masked frame modelling: weight, and the share of real frames zeroed.
        public var mfmWeight = 1.0
        public var mfmProbability = 0.15
        /// How MFM scores a prediction against a frame: UniBERT's raw dot product, or its normalised variant
        /// (cosine similarity divided by `mfmTemperature`).
        public var mfmSimilarity = MFMSimilarity.dot
        public var mfmTemperature = 0.1
        /// Video–text matching: weight, and the share of the batch given another video's frames.
        public var itmWeight = 1.0
        public var itmProbability = 0.5
        /// Contrastive alignment of the text and video towers (dual-stream only): weight.
        public var itcWeight = 0.0

        public init() {}

        enum CodingKeys: String, CodingKey {
            case splits, mlmWeight = "mlm_weight", mlmProbability = "mlm_probability", mfmWeight = "mfm_weight"
            case mfmProbability = "mfm_probability", mfmSimilarity = "mfm_similarity", mfmTemperature = "mfm_temperature"
            case itmWeight = "itm_weight", itmProbability = "itm_probability"
            case itcWeight = "itc_weight"
        }

        /// The checks of a pretraining run's settings (of `config`, whose model they apply to).
        func validate(for config: RunConfig) throws {
            guard !splits.isEmpty else { throw ConfigError("pretrain.splits is empty: name the splits to read, e.g. unlabeled,test_a") }
            let weights = ["mlm_weight": mlmWeight, "mfm_weight": mfmWeight, "itm_weight": itmWeight, "itc_weight": itcWeight]
            for (key, weight) in weights.sorted(by: { $0.key < $1.key }) where !(weight >= 0 && weight.isFinite) {
                throw ConfigError("pretrain.\(key) must be 0 (off) or positive, got \(weight)")
            }
            guard weights.values.contains(where: { $0 > 0 }) else {
                throw ConfigError("pretrain.mlm_weight, mfm_weight, itm_weight and itc_weight are all 0: switch on at least one task")
            }
            let shares = ["mlm_probability": mlmProbability, "mfm_probability": mfmProbability, "itm_probability": itmProbability]
            for (key, share) in shares.sorted(by: { $0.key < $1.key }) where !(share > 0 && share < 1) {
                throw ConfigError("pretrain.\(key) must lie in (0, 1), got \(share)")
            }
            guard mfmTemperature > 0, mfmTemperature.isFinite else {
                throw ConfigError("pretrain.mfm_temperature must be positive (UniBERT uses 0.1), got \(mfmTemperature)")
            }
            guard config.model.kind != .baseline else {
                throw ConfigError("model.kind=baseline cannot be pretrained: its text and frames meet only in the head; "
                    + "use single_stream or dual_stream")
            }
            guard config.model.modalities == .both else {
                throw ConfigError("pretraining reads text and frames: model.modalities must be 'both', got '\(config.model.modalities.rawValue)'")
            }
            if itcWeight > 0, config.model.kind != .dualStream {
                throw ConfigError("pretrain.itc_weight=\(itcWeight) needs separate text and video towers, which only "
                    + "model.kind=dual_stream has; set pretrain.itc_weight=0 for \(config.model.kind.rawValue)")
            }
            if mfmWeight > 0, config.data.frameSource != .features {
                throw ConfigError("pretrain.mfm_weight=\(mfmWeight) recognises frame feature vectors, but data.frame_source "
                    + "is '\(config.data.frameSource.rawValue)': pretrain on features, or set pretrain.mfm_weight=0")
            }
            if config.tricks.rdropAlpha > 0 {
                throw ConfigError("tricks.rdrop_alpha regularises the classifier, which pretraining does not train: set it to 0")
            }
            if !config.model.initFrom.isEmpty {
                throw ConfigError("model.init is for fine-tuning (`vidtag train`); pretraining starts from model.text_encoder or random weights")
            }
        }
    }
}

/// A share of the labelled training videos (`data.label_fraction`): the same videos for a given seed
/// whatever the model, so that two arms of an experiment see the same labels.
enum LabelFraction {
    /// The first `fraction` (rounded up) of `positions` in a shuffle fixed by `seed`, back in index order.
    static func subset(_ positions: [Int], fraction: Double, seed: UInt64) -> [Int] {
        guard fraction < 1, !positions.isEmpty else { return positions }
        var order = positions
        var generator = SeedDerivation.generator(seed, 0x1AB3_1F4A)
        generator.shuffle(&order)
        let kept = max(1, Int((Double(positions.count) * fraction).rounded(.up)))
        return order.prefix(kept).sorted()
    }
}
