/// Samples collated into flat row-major buffers, ready to become tensors.
public struct Batch: Sendable {
    /// The epoch it belongs to.
    public var epoch: Int
    /// Its index within the epoch (0-based).
    public var index: Int
    /// Positions of its videos in the split's ``VideoIndex``.
    public var positions: [Int]
    /// Video ids, in row order.
    public var ids: [String]
    /// Token ids, attention mask and token types, `[B, T]`.
    public var text: TokenBatch
    /// Frames, row-major, of shape ``framesShape``: `[B, F, D]` or `[B, F, 3, H, W]`.
    public var frames: [Float]
    public var framesShape: [Int]
    /// `[B, F]`: 1 for a real frame, 0 for padding.
    public var frameMask: [Int32]
    /// `[B]` level-2 class indices, -1 where a video has no label.
    public var labels: [Int32]
    /// What reading the batch's videos met.
    public var report: LoadReport

    /// Rows in the batch.
    public var count: Int { ids.count }
    /// Whether every row has a label.
    public var isFullyLabeled: Bool { !labels.contains(-1) }

    /// Collates `samples` (which must share their frame shape and frame count): text padded as
    /// `textPadding` says with `paddingID`, frames stacked.
    public init(collating samples: [Sample], textPadding: BatchPadding = .longest, paddingID: Int32, epoch: Int = 0, index: Int = 0) throws {
        guard let first = samples.first else { throw SampleError.invalidSetting("a batch needs at least one sample") }
        let frameCount = first.frameMask.count
        let valuesPerSample = first.frames.count
        for sample in samples where sample.frameShape != first.frameShape || sample.frameMask.count != frameCount
            || sample.frames.count != valuesPerSample
        {
            throw SampleError.invalidSetting(
                "samples of one batch differ in frame layout: video \(sample.id) has \(sample.frameMask.count) x \(sample.frameShape), "
                    + "video \(first.id) has \(frameCount) x \(first.frameShape)")
        }
        self.epoch = epoch
        self.index = index
        positions = samples.map(\.position)
        ids = samples.map(\.id)
        text = try TokenBatch(collating: samples.map(\.text), padding: textPadding, paddingID: paddingID)
        framesShape = [samples.count, frameCount] + first.frameShape
        var frames = [Float]()
        frames.reserveCapacity(samples.count * valuesPerSample)
        var mask = [Int32]()
        mask.reserveCapacity(samples.count * frameCount)
        var report = LoadReport()
        for sample in samples {
            frames += sample.frames
            mask += sample.frameMask
            report.merge(sample.report)
        }
        self.frames = frames
        frameMask = mask
        labels = samples.map { Int32($0.label ?? -1) }
        self.report = report
    }
}
