import Torch
import VidTagData
import VidTagModels

/// The self-supervised pretraining tasks as one training loss (a `TrainingTask` the trainer optimises in
/// place of classification): the weighted sum of the tasks that are on, each also logged on its own.
///
/// Per batch, on the host: ITM's pairs first (a share of rows get another row's frames), then MFM's frames
/// (chosen among the real frames the rows now have), then MLM's tokens; one forward pass of the model over
/// the masked text and masked, re-paired frames; then each task's loss from its outputs.
public final class PretrainingObjective: TrainingTask {
    public let model: any FusionEncoder
    public let heads: PretrainingHeads
    public let settings: RunConfig.PretrainSettings
    /// The run's seed: with a batch's epoch and index (and the data-parallel rank) it fixes the batch's choices.
    public let seed: UInt64
    /// The data-parallel rank whose share of the batch this process sees: each rank draws its own choices.
    public let rank: Int
    let special: Set<Int32>
    let maskID: Int32
    let vocabularySize: Int

    /// - vocabulary: the tokenizer's (its special tokens are never masked; `[MASK]` replaces chosen tokens).
    public init(model: any FusionEncoder, heads: PretrainingHeads, settings: RunConfig.PretrainSettings, seed: UInt64,
                vocabulary: Vocabulary, rank: Int = 0) {
        self.model = model
        self.rank = rank
        self.heads = heads
        self.settings = settings
        self.seed = seed
        let ids = vocabulary.specialTokenIDs
        special = [ids.unknown, ids.classifier, ids.separator, ids.padding, ids.mask]
        maskID = ids.mask
        vocabularySize = vocabulary.count
    }

    /// The host-side choices of one batch, nil for a task that is off.
    public struct Plan: Equatable {
        public var pairs: VideoTextPairs?
        public var frames: MaskedFrames?
        public var tokens: MaskedTokens?
        /// `[B, F]` the real frames of each row after pairing.
        public var frameMask: [Int32]
    }

    /// The choices of `batch`: fixed by the seed, the batch's epoch and its index in the epoch, and the rank
    /// (rank 0 draws what one process draws).
    public func plan(for batch: Batch) -> Plan {
        var path: [UInt64] = [0x9E7A_1A5C, UInt64(batch.epoch), UInt64(batch.index)]
        if rank > 0 { path.append(UInt64(rank)) }
        let base = SeedDerivation.seed(seed, path: path)
        var pairs: VideoTextPairs?
        var frameMask = batch.frameMask
        if settings.itmWeight > 0 {
            var generator = SeedDerivation.generator(base, 1)
            let made = VideoTextPairs(rows: batch.count, probability: settings.itmProbability, generator: &generator)
            let frameCount = batch.framesShape[1]
            frameMask = made.frameSource.flatMap { batch.frameMask[($0 * frameCount)..<(($0 + 1) * frameCount)] }
            pairs = made
        }
        var frames: MaskedFrames?
        if settings.mfmWeight > 0 {
            var generator = SeedDerivation.generator(base, 2)
            frames = MaskedFrames(frameMask: frameMask, probability: settings.mfmProbability, generator: &generator)
        }
        var tokens: MaskedTokens?
        if settings.mlmWeight > 0 {
            var generator = SeedDerivation.generator(base, 3)
            tokens = MaskedTokens(batch.text, probability: settings.mlmProbability, special: special, maskID: maskID,
                                  vocabularySize: vocabularySize, generator: &generator)
        }
        return Plan(pairs: pairs, frames: frames, tokens: tokens, frameMask: frameMask)
    }

    public func lossFunction(for batch: Batch, device: Device) -> () -> BatchLoss {
        let plan = plan(for: batch)
        var input = batch.input(on: device)
        if let tokens = plan.tokens {
            input.textIds = Tensor(tokens.ids, shape: batch.text.shape).to(.int64).to(device)
        }
        if let pairs = plan.pairs, pairs.matchedRows.count < batch.count {
            let source = Tensor(pairs.frameSource.map(Int64.init), shape: [batch.count]).to(device)
            input.frames = input.frames.indexSelect(dim: 0, index: source)  // [B, F, D]
            input.frameMask = input.frameMask.indexSelect(dim: 0, index: source)  // [B, F]
            input.framesPadded = plan.frameMask.contains(0)
        }
        let targets = input.frames  // [B, F, D]: what each row's frames were before MFM zeroed some
        if let frames = plan.frames, !frames.chosen.isEmpty {
            var keep = [Float](repeating: 1, count: plan.frameMask.count)
            for position in frames.chosen { keep[position] = 0 }
            input.frames = input.frames * Tensor(keep, shape: Array(batch.framesShape.prefix(2)) + [1]).to(device)
        }
        return { [self, input] in
            let encoding = model.encode(input, train: true)
            var parts: [String: Tensor] = [:]
            var total: Tensor?
            func add(_ name: String, weight: Double, _ loss: Tensor) {
                parts[name] = loss
                total = total.map { $0 + loss * weight } ?? loss * weight
            }
            if let head = heads.mlm, let tokens = plan.tokens, !tokens.chosen.isEmpty {
                add("mlm_loss", weight: settings.mlmWeight,
                    PretrainingLosses.mlm(text: encoding.text, chosen: tokens.chosen, labels: tokens.labels, head: head))
            }
            if let head = heads.mfm, let frames = plan.frames, !frames.chosen.isEmpty, let output = encoding.frames {
                add("mfm_loss", weight: settings.mfmWeight,
                    PretrainingLosses.mfm(frames: output, targets: targets, frameMask: plan.frameMask, chosen: frames.chosen,
                                          head: head, similarity: settings.mfmSimilarity, temperature: settings.mfmTemperature))
            }
            if let head = heads.itm, let pairs = plan.pairs {
                add("itm_loss", weight: settings.itmWeight,
                    PretrainingLosses.itm(pooled: encoding.pooled, matches: pairs.frameSource.indices.map(pairs.matches), head: head))
            }
            if let scale = heads.logitScale, let towers = encoding.towers {
                let rows = plan.pairs?.matchedRows ?? Array(0..<batch.count)
                if rows.count > 1 {
                    add("itc_loss", weight: settings.itcWeight,
                        PretrainingLosses.itc(text: towers.text, video: towers.video, rows: rows, logitScale: scale))
                }
            }
            // A batch too small for any choice still gives a loss tied to the graph (zero gradients).
            return BatchLoss(total: total ?? encoding.pooled.sum() * 0, parts: parts)
        }
    }
}

/// How masked frame modelling scores a predicted frame against a candidate (`pretrain.mfm_similarity`).
public enum MFMSimilarity: String, Codable, Sendable, CaseIterable {
    /// The raw dot product (UniBERT's default): scales with the features' norms.
    case dot
    /// The cosine similarity over `pretrain.mfm_temperature` (UniBERT's `normalize=True`).
    case cosine
}

/// The losses of the pretraining tasks, each from the model's outputs and the host's choices (the
/// fixtures of scripts/fixtures/make_pretraining_fixtures.py check them against PyTorch / Hugging Face).
public enum PretrainingLosses {
    /// MLM: the cross-entropy of the MLM head's logits at the chosen text positions against their original
    /// ids, averaged over them: Hugging Face `BertForMaskedLM`'s loss (labels -100 elsewhere), with the head
    /// run on the chosen positions only.
    /// - text: `[B, T, H]`; chosen: row-major positions; labels: `[B, T]` original ids at chosen positions.
    public static func mlm(text: Tensor, chosen: [Int], labels: [Int32], head: BertMaskedLMHead) -> Tensor {
        let device = text.device
        let index = Tensor(chosen.map(Int64.init), shape: [chosen.count]).to(device)
        let hidden = text.reshape([-1, text.size(-1)]).indexSelect(dim: 0, index: index)  // [M, H]
        let logits = head.forward(hidden).to(.float32)  // [M, V]
        let targets = Tensor(chosen.map { Int64(labels[$0]) }, shape: [chosen.count]).to(device)
        return logits.crossEntropy(targets)
    }

    /// MFM (UniBERT's in-batch NCE): the MFM head's output at each chosen frame position is scored against
    /// every real frame vector of the batch (`targets`, padding excluded) and must pick its own: cross-entropy
    /// over the batch's frames, averaged over the chosen positions. The score is a dot product, or with
    /// `.cosine` the cosine similarity divided by `temperature` (UniBERT's `normalize=True`, temp 0.1).
    /// - frames: the model's output at the frame positions `[B, F, H]`; targets: the input frames before
    ///   masking `[B, F, D]`; frameMask: `[B, F]` real frames; chosen: row-major positions.
    public static func mfm(frames: Tensor, targets: Tensor, frameMask: [Int32], chosen: [Int], head: Linear,
                           similarity: MFMSimilarity = .dot, temperature: Double = 0.1) -> Tensor {
        let device = frames.device
        let index = Tensor(chosen.map(Int64.init), shape: [chosen.count]).to(device)
        var predicted = head(frames.reshape([-1, frames.size(-1)]).indexSelect(dim: 0, index: index)).to(.float32)  // [M, D]
        var candidates = targets.reshape([-1, targets.size(-1)]).to(.float32)  // [B·F, D]
        if similarity == .cosine {
            predicted = predicted.normalized(dim: -1)
            candidates = candidates.normalized(dim: -1)
        }
        let padding = Tensor(frameMask.map { $0 == 0 ? Int32(1) : 0 }, shape: [1, frameMask.count]).to(device).eq(1)  // [1, B·F]
        var logits = predicted.matmul(candidates.transpose(0, 1))  // [M, B·F]
        if similarity == .cosine { logits = logits / temperature }
        return logits.maskedFill(padding, -1e9).crossEntropy(index)
    }

    /// ITM: binary cross-entropy with logits of the ITM head over the pooled output, 1 where a row has its
    /// own frames.
    public static func itm(pooled: Tensor, matches: [Bool], head: Linear) -> Tensor {
        let logits = head(pooled).squeeze(-1).to(.float32)  // [B]
        let labels = Tensor(matches.map { $0 ? Float(1) : 0 }, shape: [matches.count]).to(pooled.device)
        return logits.binaryCrossEntropyWithLogits(labels)
    }

    /// ITC: symmetric InfoNCE between the L2-normalised pooled text and video towers of `rows` (the pairs
    /// that match), logits scaled by exp(logit_scale) capped at 100 (CLIP).
    public static func itc(text: Tensor, video: Tensor, rows: [Int], logitScale: Tensor) -> Tensor {
        let device = text.device
        let index = Tensor(rows.map(Int64.init), shape: [rows.count]).to(device)
        let t = text.indexSelect(dim: 0, index: index).to(.float32).normalized(dim: -1)  // [N, H]
        let v = video.indexSelect(dim: 0, index: index).to(.float32).normalized(dim: -1)  // [N, H]
        let logits = t.matmul(v.transpose(0, 1)) * logitScale.exp().clamp(max: 100)  // [N, N]
        let targets = Tensor.arange(rows.count, device: device)
        return (logits.crossEntropy(targets) + logits.transpose(0, 1).crossEntropy(targets)) * 0.5
    }
}
