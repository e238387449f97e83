import Foundation
import Torch

// Swin Transformer (Liu et al. 2021) as Hugging Face transformers' `modeling_swin.py` computes it, read
// bottom-up: patch embeddings → window attention with relative position bias → (shifted-)window block → patch
// merging → stage → model. Module paths are the checkpoint keys `save_pretrained` writes
// (`encoder.layers.0.blocks.1.attention.self.relative_position_bias_table`); the renaming lives in
// `SwinCheckpointKeys`.
//
// The relative position index is not a parameter: it is computed from window_size (Hugging Face 5 makes it a
// non-persistent buffer too). Checkpoints saved by older versions carry it as
// `…attention.self.relative_position_index`; `SwinModel.load` checks each against the computed one (a
// mismatch means another window size and is an error) and reports it as ignored.
//
// Padding follows Hugging Face's maybe_pad everywhere: pixels to a multiple of the patch, each block's grid to
// a multiple of the window (bottom and right, zeros after layernorm_before), odd grids before patch merging. A
// stage whose grid is no larger than the window attends within one window of that size without shifting;
// where that window is smaller than window_size, the bias comes from the same table at the same relative
// offsets (Hugging Face fails there).
//
// Initialisation follows `SwinPreTrainedModel._init_weights`: Linear and Conv2d weights normal(0,
// initializer_range) (trunc_normal in HF, whose ±2 absolute bounds never bite at 0.02), biases zero, LayerNorm
// ones and zeros, the relative position bias tables and absolute position embeddings zero.

/// Patch embeddings (a conv with kernel = stride = patch) followed by LayerNorm, and optional absolute position
/// embeddings (`SwinEmbeddings`, keys `embeddings.patch_embeddings.projection.*`, `embeddings.norm.*`,
/// `embeddings.position_embeddings` [1, P, C]).
public final class SwinEmbeddings {
    public let projection: Conv2d
    public let norm: LayerNorm
    public let positionEmbeddings: Tensor?
    let patch: ImageSize
    let dropout: Double

    init(_ path: ParameterPath, config: SwinConfig) {
        patch = config.patchSize
        projection = Conv2d(path("patch_embeddings")("projection"), inputChannels: config.numChannels,
                            outputChannels: config.embedDim, kernel: (patch.height, patch.width),
                            stride: (patch.height, patch.width), initializer: .normal(std: config.initializerRange))
        norm = LayerNorm(path("norm"), size: config.embedDim)  // nn.LayerNorm(embed_dim): eps 1e-5 always
        let grid = (config.imageSize.height / patch.height) * (config.imageSize.width / patch.width)
        positionEmbeddings = config.useAbsoluteEmbeddings
            ? path.parameter("position_embeddings", shape: [1, grid, config.embedDim], initializer: .zeros) : nil
        dropout = config.hiddenDropoutProb
    }

    /// `[N, C, H, W]` → `[N, h·w, embed_dim]` and the grid (h, w).
    public func forward(_ pixels: Tensor, train: Bool) -> (Tensor, ImageSize) {
        let padRight = (patch.width - pixels.size(3) % patch.width) % patch.width
        let padBottom = (patch.height - pixels.size(2) % patch.height) % patch.height
        let padded = padRight + padBottom > 0 ? pixels.padded([0, padRight, 0, padBottom]) : pixels
        let patches = projection(padded)  // [N, C, h, w]
        let grid = ImageSize(height: patches.size(2), width: patches.size(3))
        var embedded = norm(patches.flatten(from: 2).transpose(1, 2))  // [N, h·w, C]
        if let positionEmbeddings {
            embedded = embedded + (positionEmbeddings.size(1) == grid.height * grid.width && grid.height == grid.width
                ? positionEmbeddings : Self.interpolated(positionEmbeddings, grid))
        }
        return (embedded.dropout(dropout, train: train), grid)
    }

    /// `[1, s², C]` → `[1, h·w, C]`, bicubic (Hugging Face's `interpolate_pos_encoding`; Swin has no class token).
    static func interpolated(_ table: Tensor, _ grid: ImageSize) -> Tensor {
        let dim = table.size(2)
        let side = Int(Double(table.size(1)).squareRoot())
        let square = table.reshape([1, side, side, dim]).permute([0, 3, 1, 2])
        let resized = square.interpolate(size: (grid.height, grid.width), mode: .bicubic, alignCorners: false)
        return resized.permute([0, 2, 3, 1]).reshape([1, grid.height * grid.width, dim])
    }
}

/// Window geometry shared by the blocks: relative position indices and the shifted-window mask.
enum SwinWindows {
    /// For a `window` x `window` window, the row of the `(2·tableWindow − 1)²` bias table that each (query, key)
    /// pair reads: `[window², window²]` i64, Hugging Face's relative_position_index when window == tableWindow.
    static func relativePositionIndex(window: Int, tableWindow: Int) -> [Int64] {
        let area = window * window
        var index = [Int64](repeating: 0, count: area * area)
        for query in 0..<area {
            for key in 0..<area {
                let dh = query / window - key / window + tableWindow - 1
                let dw = query % window - key % window + tableWindow - 1
                index[query * area + key] = Int64(dh * (2 * tableWindow - 1) + dw)
            }
        }
        return index
    }

    /// The additive mask of shifted windows over a `height` x `width` (padded) grid: `[windows, w², w²]` with 0
    /// where query and key came from the same region before the cyclic shift and −100 elsewhere
    /// (Hugging Face's get_attn_mask).
    static func shiftMask(height: Int, width: Int, window: Int, shift: Int, device: Device) -> Tensor {
        func region(_ index: Int, _ size: Int) -> Int { (index >= size - window ? 1 : 0) + (index >= size - shift ? 1 : 0) }
        let (rows, columns) = (height / window, width / window)
        let area = window * window
        var mask = [Float](repeating: 0, count: rows * columns * area * area)
        var labels = [Int](repeating: 0, count: area)
        for row in 0..<rows {
            for column in 0..<columns {
                for position in 0..<area {
                    labels[position] = region(row * window + position / window, height) * 3
                        + region(column * window + position % window, width)
                }
                let base = (row * columns + column) * area * area
                for query in 0..<area {
                    for key in 0..<area where labels[query] != labels[key] { mask[base + query * area + key] = -100 }
                }
            }
        }
        return Tensor(mask, shape: [rows * columns, area, area]).to(device)
    }

    /// `[N, H, W, C]` → `[N · windows, w², C]`.
    static func partition(_ x: Tensor, window: Int) -> Tensor {
        let (batch, height, width, channels) = (x.size(0), x.size(1), x.size(2), x.size(3))
        return x.view([batch, height / window, window, width / window, window, channels]).transpose(2, 3)
            .reshape([-1, window * window, channels])
    }

    /// `[N · windows, w², C]` → `[N, H, W, C]`.
    static func reverse(_ windows: Tensor, window: Int, height: Int, width: Int) -> Tensor {
        let channels = windows.size(-1)
        return windows.view([-1, height / window, width / window, window, window, channels]).transpose(2, 3)
            .reshape([-1, height, width, channels])
    }
}

/// Window self-attention with a learned relative position bias (`SwinSelfAttention` + `SwinSelfOutput`, keys
/// `attention.self.{query,key,value,relative_position_bias_table}` and `attention.output.dense`).
public final class SwinAttention {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    /// `[(2·window − 1)², heads]`.
    public let relativePositionBiasTable: Tensor
    public let output: Linear
    let heads: Int
    let tableWindow: Int
    /// The relative position index of a full window, `[window_size²]` flattened, on the parameters' device.
    let relativePositionIndex: Tensor
    let attentionDropout: Double
    let dropout: Double

    init(_ path: ParameterPath, config: SwinConfig, channels: Int, heads: Int) {
        let initializer = Initializer.normal(std: config.initializerRange)
        let attention = path("self")
        query = Linear(attention("query"), inputSize: channels, outputSize: channels, bias: config.qkvBias,
                       initializer: initializer)
        key = Linear(attention("key"), inputSize: channels, outputSize: channels, bias: config.qkvBias,
                     initializer: initializer)
        value = Linear(attention("value"), inputSize: channels, outputSize: channels, bias: config.qkvBias,
                       initializer: initializer)
        tableWindow = config.windowSize
        relativePositionBiasTable = attention.parameter(
            "relative_position_bias_table", shape: [(2 * tableWindow - 1) * (2 * tableWindow - 1), heads],
            initializer: .zeros)
        output = Linear(path("output")("dense"), inputSize: channels, outputSize: channels, initializer: initializer)
        relativePositionIndex = Tensor(SwinWindows.relativePositionIndex(window: tableWindow, tableWindow: tableWindow))
            .to(path.device)
        self.heads = heads
        attentionDropout = config.attentionProbsDropoutProb
        dropout = config.hiddenDropoutProb
    }

    /// The bias of every (query, key) pair of a `window` x `window` window: `[1, heads, w², w²]`.
    func relativePositionBias(window: Int) -> Tensor {
        let area = window * window
        let index = window == tableWindow
            ? relativePositionIndex
            : Tensor(SwinWindows.relativePositionIndex(window: window, tableWindow: tableWindow))
                .to(relativePositionBiasTable.device)
        return relativePositionBiasTable.indexSelect(dim: 0, index: index).view([area, area, heads])
            .permute([2, 0, 1]).unsqueeze(0)
    }

    /// - windows: `[N · nW, w², C]`.
    /// - shiftMask: `[nW, w², w²]` for shifted windows, nil otherwise.
    public func forward(_ windows: Tensor, window: Int, shiftMask: Tensor?, train: Bool) -> Tensor {
        let (count, length, channels) = (windows.size(0), windows.size(1), windows.size(2))
        let headSize = channels / heads
        func splitHeads(_ x: Tensor) -> Tensor { x.view([count, length, heads, headSize]).transpose(1, 2) }
        var mask = relativePositionBias(window: window)  // [1, heads, w², w²]
        if let shiftMask {
            let perImage = shiftMask.size(0)
            mask = (mask + shiftMask.unsqueeze(1))  // [nW, heads, w², w²]
                .unsqueeze(0).expand([count / perImage, perImage, heads, length, length])
                .reshape([count, heads, length, length])
        }
        let context = scaledDotProductAttention(
            query: splitHeads(query(windows)), key: splitHeads(key(windows)), value: splitHeads(value(windows)),
            mask: mask, dropout: train ? attentionDropout : 0)  // [N · nW, heads, w², d]
        return output(context.transpose(1, 2).reshape([count, length, channels])).dropout(dropout, train: train)
    }
}

/// One Swin block (`SwinLayer`): x + drop_path(window attention(LN(x))) with the windows cyclically shifted by
/// `shift` in odd blocks, then x + MLP(LN(x)) (`intermediate.dense` → activation → `output.dense`).
public final class SwinBlock {
    public let layernormBefore: LayerNorm
    public let attention: SwinAttention
    public let layernormAfter: LayerNorm
    public let intermediate: Linear
    public let output: Linear
    let window: Int
    let shift: Int
    let dropPath: Double
    let activation: BertActivation
    let dropout: Double

    init(_ path: ParameterPath, config: SwinConfig, channels: Int, heads: Int, shift: Int, dropPath: Double) {
        let initializer = Initializer.normal(std: config.initializerRange)
        layernormBefore = LayerNorm(path("layernorm_before"), size: channels, eps: config.layerNormEps)
        attention = SwinAttention(path("attention"), config: config, channels: channels, heads: heads)
        layernormAfter = LayerNorm(path("layernorm_after"), size: channels, eps: config.layerNormEps)
        let hidden = config.mlpSize(channels)
        intermediate = Linear(path("intermediate")("dense"), inputSize: channels, outputSize: hidden,
                              initializer: initializer)
        output = Linear(path("output")("dense"), inputSize: hidden, outputSize: channels, initializer: initializer)
        window = config.windowSize
        self.shift = shift
        self.dropPath = dropPath
        activation = config.hiddenAct
        dropout = config.hiddenDropoutProb
    }

    /// `[N, h·w, C]` over an `grid` → `[N, h·w, C]`.
    public func forward(_ hidden: Tensor, grid: ImageSize, train: Bool) -> Tensor {
        let (batch, channels) = (hidden.size(0), hidden.size(2))
        // A grid no larger than the window is one unshifted window of its own size.
        let fits = min(grid.height, grid.width) <= window
        let (window, shift) = fits ? (min(grid.height, grid.width), 0) : (self.window, self.shift)
        let padRight = (window - grid.width % window) % window
        let padBottom = (window - grid.height % window) % window
        let (height, width) = (grid.height + padBottom, grid.width + padRight)

        var x = layernormBefore(hidden).view([batch, grid.height, grid.width, channels])
        if padRight + padBottom > 0 { x = x.padded([0, 0, 0, padRight, 0, padBottom]) }  // [N, H, W, C]
        if shift > 0 { x = x.roll(shifts: [-shift, -shift], dims: [1, 2]) }
        let mask = shift > 0
            ? SwinWindows.shiftMask(height: height, width: width, window: window, shift: shift, device: hidden.device)
            : nil
        let attended = attention.forward(SwinWindows.partition(x, window: window), window: window, shiftMask: mask,
                                         train: train)  // [N · nW, w², C]
        var merged = SwinWindows.reverse(attended, window: window, height: height, width: width)  // [N, H, W, C]
        if shift > 0 { merged = merged.roll(shifts: [shift, shift], dims: [1, 2]) }
        if padRight + padBottom > 0 { merged = merged.slice(dim: 1, end: grid.height).slice(dim: 2, end: grid.width) }
        let residual = hidden + Self.dropPath(merged.reshape([batch, grid.height * grid.width, channels]),
                                              probability: dropPath, train: train)
        let fed = output(activation(intermediate(layernormAfter(residual)))).dropout(dropout, train: train)
        return residual + fed
    }

    /// Stochastic depth: each sample's branch is zeroed with `probability` and the kept ones scaled up.
    static func dropPath(_ x: Tensor, probability: Double, train: Bool) -> Tensor {
        guard train, probability > 0 else { return x }
        let keep = 1 - probability
        let shape = [x.size(0)] + Array(repeating: 1, count: x.rank - 1)
        let kept = (Tensor.rand(shape, device: x.device) + keep).floor()
        return x / keep * kept
    }
}

/// Patch merging (`SwinPatchMerging`, keys `downsample.reduction.weight` [2C, 4C], `downsample.norm.*`): each 2 x 2
/// neighbourhood is concatenated (an odd grid is padded first), normalised and projected to 2C.
public final class SwinPatchMerging {
    public let reduction: Linear
    public let norm: LayerNorm

    init(_ path: ParameterPath, config: SwinConfig, channels: Int) {
        reduction = Linear(path("reduction"), inputSize: 4 * channels, outputSize: 2 * channels, bias: false,
                           initializer: .normal(std: config.initializerRange))
        norm = LayerNorm(path("norm"), size: 4 * channels)  // nn.LayerNorm(4 · dim): eps 1e-5 always
    }

    /// `[N, h·w, C]` → `[N, ⌈h/2⌉·⌈w/2⌉, 2C]`.
    public func forward(_ hidden: Tensor, grid: ImageSize) -> Tensor {
        let (batch, channels) = (hidden.size(0), hidden.size(2))
        var x = hidden.view([batch, grid.height, grid.width, channels])
        if grid.height % 2 == 1 || grid.width % 2 == 1 { x = x.padded([0, 0, 0, grid.width % 2, 0, grid.height % 2]) }
        // Hugging Face's order: (row 0, col 0), (row 1, col 0), (row 0, col 1), (row 1, col 1).
        let quarters = [(0, 0), (1, 0), (0, 1), (1, 1)].map { row, column in
            x.slice(dim: 1, start: row, step: 2).slice(dim: 2, start: column, step: 2)
        }
        return reduction(norm(cat(quarters, dim: -1).reshape([batch, -1, 4 * channels])))
    }
}

/// One stage (`SwinStage`, keys `encoder.layers.N.*`): blocks alternating plain and shifted windows, then patch
/// merging except in the last stage.
public final class SwinStage {
    public let blocks: [SwinBlock]
    public let downsample: SwinPatchMerging?

    init(_ path: ParameterPath, config: SwinConfig, stage: Int, dropPaths: ArraySlice<Double>) {
        let channels = config.stageSize(stage)
        blocks = dropPaths.indices.enumerated().map { block, index in
            SwinBlock(path("blocks")(block), config: config, channels: channels, heads: config.numHeads[stage],
                      shift: block % 2 == 0 ? 0 : config.windowSize / 2, dropPath: dropPaths[index])
        }
        downsample = stage < config.depths.count - 1
            ? SwinPatchMerging(path("downsample"), config: config, channels: channels) : nil
    }

    /// `[N, h·w, C]` → the stage's output and its grid.
    public func forward(_ hidden: Tensor, grid: ImageSize, train: Bool) -> (Tensor, ImageSize) {
        var hidden = hidden
        for block in blocks { hidden = block.forward(hidden, grid: grid, train: train) }
        guard let downsample else { return (hidden, grid) }
        return (downsample.forward(hidden, grid: grid),
                ImageSize(height: (grid.height + 1) / 2, width: (grid.width + 1) / 2))
    }
}

/// What `SwinModel.forward` returns.
public struct SwinModelOutput {
    /// The final LayerNorm's output, `[N, h·w, C_last]` over the last stage's grid.
    public let lastHiddenState: Tensor
    /// The mean over positions, `[N, C_last]` (Hugging Face's adaptive average pool).
    public let poolerOutput: Tensor
    /// The last stage's grid.
    public let grid: ImageSize
}

/// The Swin encoder (`SwinModel`): embeddings, stages and the final `layernorm`; its vector per frame is the
/// average over positions of the normalised last stage.
public final class SwinModel: FrameEncoder {
    public static let parameterGroup = "visual"

    public let config: SwinConfig
    public let path: ParameterPath
    public let embeddings: SwinEmbeddings
    public let stages: [SwinStage]
    public let layernorm: LayerNorm

    /// Creates the model, initialised as Hugging Face does from the store's seeded generator.
    public init(_ path: ParameterPath, config: SwinConfig, group: String = SwinModel.parameterGroup) {
        let path = path.inGroup(group)
        self.config = config
        self.path = path
        embeddings = SwinEmbeddings(path("embeddings"), config: config)
        let total = config.depths.reduce(0, +)
        let rates = (0..<total).map { config.dropPathRate * Double($0) / Double(max(total - 1, 1)) }
        var start = 0
        stages = config.depths.enumerated().map { stage, depth in
            defer { start += depth }
            return SwinStage(path("encoder")("layers")(stage), config: config, stage: stage,
                             dropPaths: rates[start..<(start + depth)])
        }
        layernorm = LayerNorm(path("layernorm"), size: config.hiddenSize, eps: config.layerNormEps)
    }

    /// Encodes `[N, C, H, W]` pixels of any size (padded as Hugging Face's maybe_pad).
    public func forward(_ pixels: Tensor, train: Bool) -> SwinModelOutput {
        var (hidden, grid) = embeddings.forward(pixels, train: train)  // [N, h·w, C]
        for stage in stages { (hidden, grid) = stage.forward(hidden, grid: grid, train: train) }
        let last = layernorm(hidden)
        return SwinModelOutput(lastHiddenState: last, poolerOutput: last.mean(dim: 1), grid: grid)
    }

    public var outputSize: Int { config.hiddenSize }
    public var imageSize: ImageSize { config.imageSize }

    /// The average-pooled last stage: `[N, C, H, W]` → `[N, C_last]`.
    public func encodeFrames(_ pixels: Tensor, train: Bool) -> Tensor {
        forward(pixels, train: train).poolerOutput
    }

    /// Copies a Hugging Face checkpoint's tensors into this model, strictly (see `SwinCheckpointKeys`): keys with
    /// the `swin.` prefix of task models or none; `classifier.*` is ignored and reported; saved
    /// `relative_position_index` buffers must equal the computed ones and are reported as ignored.
    @discardableResult
    public func load(_ tensors: [String: Tensor], source: String = "checkpoint") throws -> CheckpointLoadReport {
        let hint = "the checkpoint must come from a Swin with the same config.json (embed_dim, depths, num_heads, "
            + "window_size, patch_size)"
        let expected = SwinWindows.relativePositionIndex(window: config.windowSize, tableWindow: config.windowSize)
        let area = config.windowSize * config.windowSize
        var problems: [String] = []
        for key in tensors.keys.sorted() where key.hasSuffix(SwinCheckpointKeys.relativePositionIndex) {
            let saved = tensors[key]!
            if saved.count != expected.count {
                problems.append("key \(key): window_size \(config.windowSize) gives shape [\(area), \(area)], "
                                + "checkpoint has \(saved.shape)")
            } else if saved.toArray(Int64.self) != expected {
                problems.append("key \(key): its values differ from the index of a \(config.windowSize)-wide window")
            }
        }
        guard problems.isEmpty else { throw CheckpointLoadError(source: source, problems: problems, hint: hint) }
        return try path.load(tensors, mapping: SwinCheckpointKeys.map, source: source, hint: { _ in hint })
    }

    public func checkpointTensors() -> [String: Tensor] { path.checkpointTensors() }
}

/// The one renaming table for Hugging Face Swin checkpoints.
enum SwinCheckpointKeys {
    /// The prefix SwinForImageClassification / SwinForMaskedImageModeling put before the encoder's keys.
    static let modelPrefix = "swin."
    static let headPrefixes = ["classifier.", "decoder."]
    static let relativePositionIndex = "relative_position_index"

    static func map(_ key: String) -> CheckpointKeyMapping {
        if headPrefixes.contains(where: key.hasPrefix) { return .ignored("task head, not part of the encoder") }
        let name = FrameEncoderCheckpoint.stripping(modelPrefix, key)
        if name.hasSuffix(relativePositionIndex) { return .ignored("buffer computed from window_size (checked equal)") }
        if name == "embeddings.mask_token" { return .ignored("masked-image-modelling token, unused by the encoder") }
        return .parameter(name)
    }
}
