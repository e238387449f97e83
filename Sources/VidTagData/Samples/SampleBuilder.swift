import Foundation

/// Where a sample's frames come from.
/// Where a data set's frames come from, as a setting (`data.frame_source`); ``FrameSource`` adds what reading
/// them needs.
public enum FrameSourceKind: String, Codable, Sendable, CaseIterable {
    /// `zip_feats/{split}.zip`: precomputed frame vectors (the preliminary round).
    case features
    /// `zip_frames/{split}/…`: JPEG frames (the final round), through a frame encoder.
    case frames
}

public enum FrameSource: Sendable, Equatable {
    /// `zip_feats/{split}.zip`: precomputed frame vectors, a sample's frames are `[maxFrames, dimension]`.
    case features(dimension: Int)
    /// `zip_frames/{split}/…`: JPEG frames decoded and preprocessed, `[maxFrames, 3, cropHeight, cropWidth]`.
    case pixels(FramePreprocessing)
}

/// Training draws a random sorted frame subset and random transforms, fixed by (seed, epoch, video
/// position); evaluation and prediction take an even stride and the deterministic transforms.
public enum SampleMode: Sendable, Equatable {
    case train(seed: UInt64)
    case evaluate
}

/// One model input: a video's text, frames with their mask, and its label when known.
public struct Sample: Sendable {
    /// The video's position in its source: the split's ``VideoIndex``, or a concatenation of splits.
    public var position: Int
    public var id: String
    /// `[CLS] title [SEP] asr [SEP] ocr [SEP]`: ids, attention mask and token types (Int32).
    public var text: EncodedText
    /// `[maxFrames] + frameShape` Floats, row-major; padding slots are zero.
    public var frames: [Float]
    /// The shape of one frame: `[dimension]` or `[3, height, width]`.
    public var frameShape: [Int]
    /// `[maxFrames]`: 1 for a real frame, 0 for padding.
    public var frameMask: [Int32]
    /// The level-2 class index, nil for unlabelled and test videos.
    public var label: Int?
    /// What reading this video met.
    public var report: LoadReport

    public init(position: Int, id: String, text: EncodedText, frames: [Float], frameShape: [Int], frameMask: [Int32],
                label: Int?, report: LoadReport = LoadReport()) {
        self.position = position
        self.id = id
        self.text = text
        self.frames = frames
        self.frameShape = frameShape
        self.frameMask = frameMask
        self.label = label
        self.report = report
    }
}

/// Builds samples of one split, the same code for training, evaluation and prediction: text from the
/// ``VideoIndex``, frames from the feature zip or the frame zips, chosen by ``FrameSelection`` (random
/// sorted subset in training, even stride otherwise) and padded to `maxFrames` with a mask.
///
/// Safe to use from many threads at once. A sample depends only on (mode, epoch, position).
public struct SampleBuilder: Sendable {
    public let dataRoot: DataRoot
    public let split: String
    public let index: VideoIndex
    public let maxFrames: Int
    public let frameSource: FrameSource
    public let mode: SampleMode
    /// `.stop`: a missing or damaged feature member throws; `.skip`: it is counted and the sample gets no
    /// frames. Problems with frame zips (missing zip, corrupt JPEG) are always counted, never thrown.
    public let badRecords: BadRecordPolicy
    private let features: FeatureArchive?
    private let frameReader: VideoFrameReader?

    /// Reads the split's annotations into an index and opens its frame source.
    /// - Parameter framesSplit: the folder under `zip_frames/` (default: `split`, or `test` when a
    ///   `test_*` split has no folder of its own, as in the WeChat data).
    public init(
        dataRoot: DataRoot, split: String, tokenizer: BertTokenizer, budgets: TextBudgets = TextBudgets(),
        tokenTypes: TokenTypeScheme = .allZero, maxFrames: Int, frameSource: FrameSource, labelSpace: LabelSpace?,
        mode: SampleMode, badRecords: BadRecordPolicy = .skip, framesSplit: String? = nil
    ) throws {
        let index = try VideoIndex(
            dataRoot: dataRoot, split: split, tokenizer: tokenizer, budgets: budgets, tokenTypes: tokenTypes,
            labelSpace: labelSpace, badRecords: badRecords)
        try self.init(dataRoot: dataRoot, split: split, index: index, maxFrames: maxFrames, frameSource: frameSource,
                      mode: mode, badRecords: badRecords, framesSplit: framesSplit)
    }

    /// A builder over an index already read (several builders may share one).
    public init(
        dataRoot: DataRoot, split: String, index: VideoIndex, maxFrames: Int, frameSource: FrameSource, mode: SampleMode,
        badRecords: BadRecordPolicy = .skip, framesSplit: String? = nil
    ) throws {
        guard maxFrames > 0 else { throw SampleError.invalidSetting("maxFrames is \(maxFrames); it must be at least 1") }
        self.dataRoot = dataRoot
        self.split = split
        self.index = index
        self.maxFrames = maxFrames
        self.frameSource = frameSource
        self.mode = mode
        self.badRecords = badRecords
        switch frameSource {
        case .features(let dimension):
            guard dimension > 0 else { throw SampleError.invalidSetting("feature dimension \(dimension) must be positive") }
            features = try FeatureArchive(url: try dataRoot.featuresURL(split: split), nonFinite: .reject, expectedDimension: dimension)
            frameReader = nil
        case .pixels(let preprocessing):
            features = nil
            let folder = try Self.framesFolder(dataRoot: dataRoot, split: split, explicit: framesSplit)
            frameReader = VideoFrameReader(framesDirectory: folder, maxFrames: maxFrames, preprocessing: preprocessing)
        }
    }

    private static func framesFolder(dataRoot: DataRoot, split: String, explicit: String?) throws -> URL {
        if let explicit { return try dataRoot.framesFolderURL(split: explicit) }
        do {
            return try dataRoot.framesFolderURL(split: split)
        } catch {
            if split.hasPrefix("test_"), let folder = try? dataRoot.framesFolderURL(split: "test") { return folder }
            throw error
        }
    }

    /// Number of videos.
    public var count: Int { index.count }

    /// The shape of one frame of a sample.
    public var frameShape: [Int] {
        switch frameSource {
        case .features(let dimension): [dimension]
        case .pixels(let preprocessing): [3, preprocessing.cropHeight, preprocessing.cropWidth]
        }
    }

    /// The sample of the video at `position` for `epoch` (the epoch matters only in training).
    public func sample(at position: Int, epoch: Int = 0) throws -> Sample {
        precondition(index.ids.indices.contains(position), "SampleBuilder: position \(position) outside 0..<\(count)")
        var generator: SplitMix64? = nil
        if case .train(let seed) = mode { generator = SeedDerivation.generator(seed, UInt64(epoch), UInt64(position)) }
        let id = index.ids[position]
        var report = LoadReport()
        report.samples = 1
        let frames: [Float]
        let mask: [Int32]
        switch frameSource {
        case .features(let dimension):
            (frames, mask) = try featureFrames(id: id, position: position, dimension: dimension, generator: &generator, report: &report)
        case .pixels:
            let reader = frameReader!
            let clip: VideoClip
            if var random = generator {
                clip = reader.trainingClip(videoID: id, using: &random)
            } else {
                clip = reader.evaluationClip(videoID: id)
            }
            report.frames.record(clip)
            (frames, mask) = (clip.frames, clip.mask)
        }
        return Sample(
            position: position, id: id, text: index.text(at: position), frames: frames, frameShape: frameShape,
            frameMask: mask, label: index.label(at: position), report: report)
    }

    private func featureFrames(
        id: String, position: Int, dimension: Int, generator: inout SplitMix64?, report: inout LoadReport
    ) throws -> ([Float], [Int32]) {
        var frames = [Float](repeating: 0, count: maxFrames * dimension)
        var mask = [Int32](repeating: 0, count: maxFrames)
        let matrix: FrameFeatures
        do {
            matrix = try features!.features(id: id)
        } catch let error as FeatureError {
            if badRecords == .stop {
                throw SampleError.videoFailed(split: split, position: position, id: id, underlying: error.description)
            }
            report.recordFeatureProblem(error)
            return (frames, mask)
        }
        let selected: [Int]
        if var random = generator {
            selected = FrameSelection.randomSubset(frameCount: matrix.frameCount, maxFrames: maxFrames, using: &random)
            generator = random
        } else {
            selected = FrameSelection.evenStride(frameCount: matrix.frameCount, maxFrames: maxFrames)
        }
        for (slot, frame) in selected.enumerated() {
            frames.replaceSubrange((slot * dimension)..<((slot + 1) * dimension), with: matrix.frame(frame))
            mask[slot] = 1
        }
        report.featureFramesRead += selected.count
        if selected.isEmpty { report.videosWithoutFeatures += 1 }
        return (frames, mask)
    }
}
