import Foundation
import Torch
import VidTagData
import VidTagModels

/// Everything a training run is configured by. One Codable value, read from JSON, overridden with
/// `--set a.b=value`, saved resolved into the run folder (`run_config.json`). Unknown keys are rejected.
/// `vidtag print-config` prints the defaults below; docs/config.md explains each key.
public struct RunConfig: Codable, Sendable, Equatable {
    /// Seed of every random source in the run (initialisation, shuffling, dropout, frame sampling) but the
    /// folds (`data.folds_seed`).
    public var seed: Int = 42
    public var data = DataSettings()
    public var model = ModelSettings()
    public var train = TrainSettings()
    public var tricks = TrickSettings()
    public var pretrain = PretrainSettings()

    public init() {}

    public struct DataSettings: Codable, Sendable, Equatable {
        /// Split used for training (and, with `validation_fraction`, for held-out evaluation).
        public var trainSplit = "labeled"
        /// Fraction of `train_split` held out for evaluation (stratified by level-2 label).
        public var validationFraction = 0.1
        /// Seed of the stratified folds, apart from `seed`: runs that differ only in their seed hold out the
        /// same videos, so that their spread is the seed's alone.
        public var foldsSeed = 0
        /// Share of the labelled training videos (after the held-out fold) trained on, a subset fixed by the seed.
        public var labelFraction = 1.0
        /// Token budgets of the text segments: `[CLS] title [SEP] asr [SEP] ocr [SEP]`.
        public var titleTokens = 64
        public var asrTokens = 64
        public var ocrTokens = 64
        /// Frames per video: features are padded with a mask, longer videos are sampled (even stride for
        /// evaluation, random sorted subset for training).
        public var maxFrames = 16
        /// `features` (zip_feats, the preliminary round) or `frames` (zip_frames JPEGs, the final round).
        public var frameSource = FrameSourceKind.features
        /// Width of a frame feature vector.
        public var featureSize = 768
        /// Background threads building batches, and batches they may hold ready.
        public var workers = 2
        public var prefetchBatches = 4
        /// What to do with malformed records: `skip` (report and count) or `stop`.
        public var badRecordPolicy = BadRecordPolicy.skip
        /// A folder written by `vidtag pseudo-label` whose videos join training with soft targets (empty: none),
        /// and the weight of their loss.
        public var pseudoLabels = ""
        public var pseudoWeight = 1.0

        public init() {}
    }

    public struct ModelSettings: Codable, Sendable, Equatable {
        /// `single_stream` (frames projected into BERT beside the text), `dual_stream` (text and frames
        /// encoded apart, then fusion layers where the text attends to the frames) or `baseline` (the
        /// challenge's: BERT [CLS] + NeXtVLAD + SE gates).
        public var kind = ModelKind.singleStream
        /// `both`, `text` (text only) or `frames` (frames only).
        public var modalities = Modalities.both
        /// Folder of a pretrained Hugging Face BERT (config.json, model.safetensors, vocab.txt); empty to
        /// build one from the settings below with random weights.
        public var textEncoder = ""
        /// A model folder written by `vidtag pretrain` to fine-tune: every shared key is loaded strictly, its
        /// vocabulary is used, the classifier starts fresh; empty for none.
        public var initFrom = ""
        /// Folder holding vocab.txt when `text_encoder` is empty (the demo writes one with its data).
        public var vocabulary = ""
        /// Folder of a Hugging Face frame encoder (ViT, CLIP vision, Swin: config.json,
        /// preprocessor_config.json, model.safetensors) to train end to end on raw frames
        /// (`data.frame_source=frames`); empty for frame features.
        public var frameEncoder = ""
        /// Keep the frame encoder's weights fixed.
        public var freezeFrameEncoder = false
        /// Shape of a BERT built from scratch.
        public var layers = 4
        public var hidden = 256
        public var heads = 4
        public var intermediate = 1024
        public var maxPositions = 512
        /// Pooling of the single-stream output: `cls` or `mean` (masked mean over text and frames).
        public var pooling = Pooling.mean
        public var dropout = 0.1
        /// NeXtVLAD settings of the baseline.
        public var nextvladClusters = 64
        public var nextvladGroups = 8
        public var nextvladExpansion = 2
        public var nextvladOutput = 1024
        public var fusionSize = 512
        public var seReduction = 8
        /// Dual-stream: BERT layers of the video tower, and fusion layers after the towers.
        public var videoLayers = 2
        public var fusionLayers = 2

        public init() {}
    }

    public struct TrainSettings: Codable, Sendable, Equatable {
        public var epochs = 3
        /// Stop after this many optimizer steps (0: run all epochs).
        public var maxSteps = 0
        public var batchSize = 32
        /// Micro-batches accumulated into one optimizer step.
        public var gradientAccumulation = 1
        /// Learning rates of the groups: the text encoder, the visual side and the new heads. 0 chooses by
        /// what is loaded: with a pretrained `model.text_encoder` (or a `model.init` folder pretrained from
        /// one) 5e-5 / 5e-4 / 5e-4 (fine-tuning, the WeChat recipe); from random weights, or a `model.init`
        /// folder pretrained from random weights, 1e-3 / 1e-3 / 2e-3 (a model from scratch stays at chance at
        /// fine-tuning rates).
        public var textLearningRate = 0.0
        public var visualLearningRate = 0.0
        public var headLearningRate = 0.0
        /// Learning rate of the frame encoder trained end to end (0: a tenth of the visual rate, as the
        /// WeChat teams did for CLIP).
        public var frameEncoderLearningRate = 0.0
        /// Learning rate of the dual-stream fusion layers (0: the head rate).
        public var fusionLearningRate = 0.0
        /// Weight decay (never applied to biases and LayerNorm).
        public var weightDecay = 0.01
        public var warmupRatio = 0.06
        /// `linear`, `cosine` or `constant` after warm-up.
        public var schedule = LearningRateSchedule.Decay.linear
        /// Global gradient-norm clip (0: off).
        public var clipNorm = 1.0
        /// Evaluate every N optimizer steps (0: once per epoch).
        public var evalEvery = 0
        /// Write a checkpoint every N optimizer steps (0: at each evaluation and at the end of each epoch).
        public var checkpointEvery = 0
        /// Checkpoints kept: the newest in `checkpoint/` (what `--resume` reads) and up to N − 1 older ones in
        /// `checkpoints/step-N/`.
        public var keepCheckpoints = 1
        /// Stop once this many evaluations in a row did not improve the held-out score (0: never).
        public var earlyStoppingPatience = 0
        /// `cpu` or `cuda[:n]`.
        public var device = "cpu"
        /// Intra-op CPU threads (0: all cores).
        public var threads = 0
        /// `fp32`, `bf16` (autocast, CPU and GPU) or `fp16` (autocast with loss scaling, GPU).
        public var precision = Precision.fp32
        /// Read the losses queued on the device (checked, written to the metrics log) every N steps, and print
        /// a progress line then when not on a terminal.
        public var logEvery = 20
        /// Also write the metrics as TensorBoard event files in `RUN/tensorboard/`.
        public var tensorboard = false
        /// Data-parallel runs: all-reduce each gradient bucket inside the backward pass, as soon as its last
        /// gradient is ready (DistributedDataParallel's overlap); false runs every bucket after backward.
        public var overlapAllReduce = true

        public init() {}
    }

    /// The training tricks of the WeChat top teams, each off by default (docs/tricks.md).
    public struct TrickSettings: Codable, Sendable, Equatable {
        /// Label smoothing of the cross-entropy.
        public var labelSmoothing = 0.0
        /// EMA of the weights (0: off; 0.999 typical). Evaluation, the saved model and prediction use it.
        public var emaDecay = 0.0
        /// FGM on `adversarial_keys` with this epsilon (0: off).
        public var fgmEpsilon = 0.0
        /// PGD on `adversarial_keys`: steps (0: off), ball radius and step size.
        public var pgdSteps = 0
        public var pgdEpsilon = 1.0
        public var pgdAlpha = 0.3
        /// Parameters perturbed by FGM / PGD, by exact key.
        public var adversarialKeys = ["bert.embeddings.word_embeddings.weight"]
        /// Dropout samples averaged in the classifier head (multi-sample dropout; 1: off).
        public var headSamples = 1
        /// R-Drop: weight of the symmetric KL between two dropout passes (0: off).
        public var rdropAlpha = 0.0
        /// Class weights: `none`, `power` (count^-alpha) or `exponential`, with their alpha.
        public var classWeighting = ClassWeighting.Kind.none
        public var classWeightAlpha = 0.5
        /// Weight of the auxiliary video-only head's loss (0: no video head).
        public var videoLossWeight = 0.0
        /// Layer-wise learning-rate decay inside BERT (1: off; 0.9 typical).
        public var layerDecay = 1.0
        /// Weight snapshots kept at evaluations for SWA (`vidtag average`; 0: none).
        public var keepSnapshots = 0
        /// Distillation from `data.pseudo_labels` on labelled videos (0: off), at this temperature.
        public var distillWeight = 0.0
        public var distillTemperature = 1.0

        public init() {}
    }

    enum CodingKeys: String, CodingKey { case seed, data, model, train, tricks, pretrain }
}

extension RunConfig.DataSettings {
    enum CodingKeys: String, CodingKey {
        case trainSplit = "train_split", validationFraction = "validation_fraction", foldsSeed = "folds_seed"
        case labelFraction = "label_fraction", titleTokens = "title_tokens"
        case asrTokens = "asr_tokens", ocrTokens = "ocr_tokens", maxFrames = "max_frames", frameSource = "frame_source"
        case featureSize = "feature_size", workers, prefetchBatches = "prefetch_batches"
        case badRecordPolicy = "bad_record_policy", pseudoLabels = "pseudo_labels", pseudoWeight = "pseudo_weight"
    }
}

extension RunConfig.ModelSettings {
    enum CodingKeys: String, CodingKey {
        case kind, modalities, textEncoder = "text_encoder", initFrom = "init", vocabulary, layers, hidden, heads, intermediate
        case frameEncoder = "frame_encoder", freezeFrameEncoder = "freeze_frame_encoder"
        case maxPositions = "max_positions", pooling, dropout, nextvladClusters = "nextvlad_clusters"
        case nextvladGroups = "nextvlad_groups", nextvladExpansion = "nextvlad_expansion"
        case nextvladOutput = "nextvlad_output", fusionSize = "fusion_size", seReduction = "se_reduction"
        case videoLayers = "video_layers", fusionLayers = "fusion_layers"
    }
}

extension RunConfig.TrainSettings {
    enum CodingKeys: String, CodingKey {
        case epochs, maxSteps = "max_steps", batchSize = "batch_size", gradientAccumulation = "gradient_accumulation"
        case textLearningRate = "text_learning_rate", visualLearningRate = "visual_learning_rate"
        case headLearningRate = "head_learning_rate", weightDecay = "weight_decay", warmupRatio = "warmup_ratio"
        case frameEncoderLearningRate = "frame_encoder_learning_rate", fusionLearningRate = "fusion_learning_rate"
        case schedule, clipNorm = "clip_norm", evalEvery = "eval_every", device, threads, precision
        case checkpointEvery = "checkpoint_every", keepCheckpoints = "keep_checkpoints"
        case earlyStoppingPatience = "early_stopping_patience"
        case logEvery = "log_every", tensorboard, overlapAllReduce = "overlap_all_reduce"
    }
}

extension RunConfig {
    /// Whether the text encoder starts from weights pretrained beyond this task: a Hugging Face BERT
    /// (`model.text_encoder`), or a `model.init` folder whose own pretraining started from one (its
    /// run_config.json says so; a folder without one counts as pretrained). A folder pretrained from random
    /// weights on the task's videos does not: at the fine-tuning rates such a model fine-tuned to 0.33 on the
    /// demo's test_a, at the from-scratch rates to 0.74 (docs/results/pretraining.md). Reads that file.
    public var textEncoderIsPretrained: Bool {
        if !model.textEncoder.isEmpty { return true }
        guard !model.initFrom.isEmpty else { return false }
        let origin = URL(fileURLWithPath: model.initFrom).appendingPathComponent("run_config.json")
        guard FileManager.default.fileExists(atPath: origin.path), let pretraining = try? RunConfig.load(origin) else { return true }
        return pretraining.textEncoderIsPretrained
    }

    /// The learning rate of each parameter group, with 0 ("auto") resolved by `textEncoderIsPretrained`.
    public var learningRates: [String: Double] {
        let pretrained = textEncoderIsPretrained
        func pick(_ value: Double, pretrained tuned: Double, scratch: Double) -> Double {
            value > 0 ? value : (pretrained ? tuned : scratch)
        }
        let visual = pick(train.visualLearningRate, pretrained: 5e-4, scratch: 1e-3)
        let head = pick(train.headLearningRate, pretrained: 5e-4, scratch: 2e-3)
        return [
            "text": pick(train.textLearningRate, pretrained: 5e-5, scratch: 1e-3),
            "visual": visual,
            "head": head,
            "fusion": train.fusionLearningRate > 0 ? train.fusionLearningRate : head,
            "frame_encoder": train.frameEncoderLearningRate > 0 ? train.frameEncoderLearningRate : visual / 10,
        ]
    }
}

extension RunConfig.TrickSettings {
    enum CodingKeys: String, CodingKey {
        case labelSmoothing = "label_smoothing", emaDecay = "ema_decay", fgmEpsilon = "fgm_epsilon"
        case pgdSteps = "pgd_steps", pgdEpsilon = "pgd_epsilon", pgdAlpha = "pgd_alpha"
        case adversarialKeys = "adversarial_keys", headSamples = "head_samples", rdropAlpha = "rdrop_alpha"
        case classWeighting = "class_weighting", classWeightAlpha = "class_weight_alpha"
        case videoLossWeight = "video_loss_weight", layerDecay = "layer_decay", keepSnapshots = "keep_snapshots"
        case distillWeight = "distill_weight", distillTemperature = "distill_temperature"
    }

    /// The class weighting these settings describe.
    public var weighting: ClassWeighting { ClassWeighting(classWeighting, alpha: classWeightAlpha) }
}
