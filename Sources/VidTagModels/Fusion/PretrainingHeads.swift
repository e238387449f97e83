import Foundation
import Torch

/// The heads of self-supervised pretraining over a fusion model, beside the model's own keys (group
/// `head`). Each exists only when its task is on:
/// - `cls.predictions.*`: BERT's MLM head (`BertOnlyMLMHead`), its decoder tied to
///   `bert.embeddings.word_embeddings.weight`, over the output at the text positions.
/// - `mfm_head.*`: masked frame modelling (UniBERT, QQ-Browser 2021): Linear H → frame feature size over the
///   output at the frame positions, scored against every real frame of the batch.
/// - `itm_head.*`: video–text matching: Linear H → 1 over the pooled output.
/// - `itc_head.logit_scale`: contrastive alignment of the two towers (dual-stream): the log of the inverse
///   temperature, CLIP's, starting at log(1 / 0.07).
public final class PretrainingHeads {
    public let mlm: BertMaskedLMHead?
    public let mfm: Linear?
    public let itm: Linear?
    public let logitScale: Tensor?

    /// The key prefixes of the pretraining heads (what a fine-tuned model leaves out of a pretrained folder).
    public static let keyPrefixes = ["cls.", "mfm_head.", "itm_head.", "itc_head."]
    /// CLIP's starting temperature, 0.07.
    public static let initialLogitScale = log(1 / 0.07)

    /// - root: the model store's root; the heads join group `head`.
    public init(_ root: ParameterPath, model: any FusionEncoder, mlm: Bool, mfm: Bool, itm: Bool, itc: Bool) {
        let head = root.inGroup("head")
        let text = model.config.textConfig
        let hidden = text.hiddenSize
        self.mlm = mlm ? BertMaskedLMHead(head("cls")("predictions"), config: text,
                                          wordEmbeddings: model.bert.embeddings.wordEmbeddings) : nil
        self.mfm = mfm ? Linear(head("mfm_head"), inputSize: hidden, outputSize: model.config.featureSize,
                                initializer: .normal(std: text.initializerRange)) : nil
        self.itm = itm ? Linear(head("itm_head"), inputSize: hidden, outputSize: 1,
                                initializer: .normal(std: text.initializerRange)) : nil
        logitScale = itc ? head("itc_head").parameter("logit_scale", shape: [1], initializer: .constant(Self.initialLogitScale)) : nil
    }

    /// Whether `key` belongs to a pretraining head.
    public static func isHeadKey(_ key: String) -> Bool { keyPrefixes.contains { key.hasPrefix($0) } }
}
