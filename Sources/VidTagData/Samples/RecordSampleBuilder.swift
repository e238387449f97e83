import Foundation

/// A video's frames as a caller holds them in memory rather than in a data root.
public enum RecordFrames: Sendable {
    /// No frames: the sample's frame mask is all zero.
    case absent
    /// JPEG images in time order (for models trained on raw frames).
    case jpegs([Data])
    /// Precomputed frame vectors `[frameCount, dimension]` (for models trained on features).
    case features(FrameFeatures)
}

/// Evaluation samples of annotation records held in memory (a request to the server, a JSON-lines
/// stream), built as ``SampleBuilder`` builds them for a split in `.evaluate` mode: the text through
/// ``VideoIndex``'s encoding, frames chosen by ``FrameSelection/evenStride(frameCount:maxFrames:)`` and,
/// for JPEGs, decoded and prepared by ``VideoFrameReader``. Safe to use from many threads at once.
public struct RecordSampleBuilder: Sendable {
    public let tokenizer: BertTokenizer
    public let budgets: TextBudgets
    public let tokenTypes: TokenTypeScheme
    public let maxFrames: Int
    public let frameSource: FrameSource
    private let frameReader: VideoFrameReader?

    public init(tokenizer: BertTokenizer, budgets: TextBudgets, tokenTypes: TokenTypeScheme = .allZero, maxFrames: Int,
                frameSource: FrameSource) throws {
        guard maxFrames > 0 else { throw SampleError.invalidSetting("maxFrames is \(maxFrames); it must be at least 1") }
        self.tokenizer = tokenizer
        self.budgets = budgets
        self.tokenTypes = tokenTypes
        self.maxFrames = maxFrames
        self.frameSource = frameSource
        if case .pixels(let preprocessing) = frameSource {
            frameReader = VideoFrameReader(framesDirectory: URL(fileURLWithPath: "/"), maxFrames: maxFrames,
                                           preprocessing: preprocessing)
        } else {
            frameReader = nil
        }
    }

    /// The [PAD] id that batches of these samples are padded with.
    public var paddingID: Int32 { tokenizer.vocabulary.specialTokenIDs.padding }

    /// The shape of one frame of a sample.
    public var frameShape: [Int] {
        switch frameSource {
        case .features(let dimension): [dimension]
        case .pixels(let preprocessing): [3, preprocessing.cropHeight, preprocessing.cropWidth]
        }
    }

    /// The sample of `record` with `frames`. Frames of the wrong kind for the model (JPEGs for a
    /// features model, or the reverse) or features of the wrong width throw; a JPEG that does not
    /// decode is skipped and listed in the sample's `report.frames.issues` (member `frames[i]`).
    public func sample(_ record: VideoAnnotation, frames: RecordFrames, position: Int = 0) throws -> Sample {
        let text = try VideoIndex.encodeText(of: record, tokenizer: tokenizer, budgets: budgets, tokenTypes: tokenTypes)
        var report = LoadReport()
        report.samples = 1
        var values = [Float](repeating: 0, count: maxFrames * frameShape.reduce(1, *))
        var mask = [Int32](repeating: 0, count: maxFrames)
        switch (frames, frameSource) {
        case (.absent, _):
            break
        case (.features(let matrix), .features(let dimension)):
            guard matrix.dimension == dimension else {
                throw RecordFrameError.featureWidth(given: matrix.dimension, expected: dimension)
            }
            let selected = FrameSelection.evenStride(frameCount: matrix.frameCount, maxFrames: maxFrames)
            for (slot, frame) in selected.enumerated() {
                values.replaceSubrange((slot * dimension)..<((slot + 1) * dimension), with: matrix.frame(frame))
                mask[slot] = 1
            }
            report.featureFramesRead += selected.count
        case (.jpegs(let jpegs), .pixels):
            let clip = frameReader!.evaluationClip(videoID: record.id, jpegs: jpegs)
            report.frames.record(clip)
            (values, mask) = (clip.frames, clip.mask)
        case (.jpegs, .features):
            throw RecordFrameError.jpegsForFeatureModel
        case (.features, .pixels):
            throw RecordFrameError.featuresForFrameModel
        }
        return Sample(position: position, id: record.id, text: text, frames: values, frameShape: frameShape,
                      frameMask: mask, label: nil, report: report)
    }
}

/// Frames given in a form the model cannot take.
public enum RecordFrameError: Error, Sendable, Equatable, CustomStringConvertible {
    case featureWidth(given: Int, expected: Int)
    case jpegsForFeatureModel
    case featuresForFrameModel

    public var description: String {
        switch self {
        case .featureWidth(let given, let expected):
            "frame features have \(given) values per frame; this model takes \(expected)"
        case .jpegsForFeatureModel:
            "this model was trained on frame features, not raw frames: send a frame-feature array, or no frames"
        case .featuresForFrameModel:
            "this model was trained on raw frames: send JPEG images, or no frames"
        }
    }
}

extension VideoIndex {
    /// A record's text as the index holds it: `[CLS] title [SEP] asr [SEP] ocr [SEP]`, each field cut to
    /// its budget, OCR texts joined in time order. Read back through ``text(at:)`` it is the same.
    public static func encodeText(of record: VideoAnnotation, tokenizer: BertTokenizer, budgets: TextBudgets,
                                  tokenTypes: TokenTypeScheme) throws -> EncodedText {
        try tokenizer.encode(
            segments: [
                TextSegment(name: "title", text: record.title, maxTokens: budgets.title),
                TextSegment(name: "asr", text: record.asr, maxTokens: budgets.asr),
                TextSegment(name: "ocr", text: record.ocrText, maxTokens: budgets.ocr),
            ], tokenTypes: tokenTypes)
    }
}
