import VidTagData
/// What a demo data set holds: split sizes, frame size and the share of awkward records, all fixed by
/// `seed` (the same settings give the same bytes).
public struct DemoDataConfiguration: Sendable, Equatable, Codable {
    /// Seed of every random draw.
    public var seed: UInt64
    /// Videos in `annotations/labeled.json` (with `category_id`).
    public var labeledCount: Int
    /// Videos in `annotations/unlabeled.json`.
    public var unlabeledCount: Int
    /// Videos in `annotations/test_a.json` (their truth goes to `test_a_truth.csv`).
    public var testCount: Int
    /// Side of the square JPEG frames (MNIST's 28 px upscaled, antialiased bilinear).
    public var frameSide: Int
    /// Frames per video (each a different image of the video's digit).
    public var framesPerVideo: ClosedRange<Int>
    /// JPEG quality of the frames.
    public var jpegQuality: Int
    /// Share of videos whose frame zip is empty (and whose feature member has zero rows).
    public var emptyClipFraction: Double
    /// Videos per split with one truncated (corrupt) JPEG frame.
    public var corruptClipsPerSplit: Int
    /// Chance that each of title, asr and ocr is empty.
    public var emptyTextFraction: Double
    /// Width of the frame feature vectors in `zip_feats`.
    public var featureDimension: Int
    /// How many of the (500) MNIST images of each digit frames are drawn from (the first ones in file order).
    public var imagesPerDigit: Int

    public init(
        seed: UInt64 = 0, labeledCount: Int = 6000, unlabeledCount: Int = 5000, testCount: Int = 1000,
        frameSide: Int = 112, framesPerVideo: ClosedRange<Int> = 4...16, jpegQuality: Int = 90,
        emptyClipFraction: Double = 0.02, corruptClipsPerSplit: Int = 2, emptyTextFraction: Double = 0.1,
        featureDimension: Int = 768, imagesPerDigit: Int = 500
    ) {
        self.imagesPerDigit = imagesPerDigit
        self.seed = seed
        self.labeledCount = labeledCount
        self.unlabeledCount = unlabeledCount
        self.testCount = testCount
        self.frameSide = frameSide
        self.framesPerVideo = framesPerVideo
        self.jpegQuality = jpegQuality
        self.emptyClipFraction = emptyClipFraction
        self.corruptClipsPerSplit = corruptClipsPerSplit
        self.emptyTextFraction = emptyTextFraction
        self.featureDimension = featureDimension
    }

    /// The default demo: 6,000 labelled, 5,000 unlabelled and 1,000 test videos at 112 px.
    public static let standard = DemoDataConfiguration()

    /// A small build for tests: 200 labelled, 60 unlabelled, 40 test videos at 56 px, 2–8 frames drawn
    /// from 20 images per digit, still with empty clips (at least one per split) and one corrupt frame per split.
    public static func tiny(seed: UInt64 = 0) -> DemoDataConfiguration {
        DemoDataConfiguration(
            seed: seed, labeledCount: 200, unlabeledCount: 60, testCount: 40, frameSide: 56, framesPerVideo: 2...8,
            corruptClipsPerSplit: 1, imagesPerDigit: 20)
    }

    func validate() throws {
        func fail(_ problem: String) -> DemoDataError { .invalidConfiguration(problem: problem) }
        guard labeledCount >= 0, unlabeledCount >= 0, testCount >= 0, labeledCount + unlabeledCount + testCount > 0 else {
            throw fail("split sizes \(labeledCount)/\(unlabeledCount)/\(testCount) must be 0 or more, not all 0")
        }
        guard max(labeledCount, unlabeledCount, testCount) < 65_000 else {
            throw fail("at most 64,999 videos per split (one zip_feats archive without ZIP64)")
        }
        guard frameSide >= 8, frameSide <= 1024 else { throw fail("frame side \(frameSide) must be within 8...1024") }
        guard framesPerVideo.lowerBound >= 1, framesPerVideo.upperBound <= 32 else {
            throw fail("frames per video \(framesPerVideo) must lie within 1...32 (the WeChat data has at most 32)")
        }
        guard (1...100).contains(jpegQuality) else { throw fail("JPEG quality \(jpegQuality) must be within 1...100") }
        guard (0.0...1.0).contains(emptyClipFraction), (0.0...1.0).contains(emptyTextFraction) else {
            throw fail("fractions must lie within 0...1 (empty clips \(emptyClipFraction), empty text \(emptyTextFraction))")
        }
        guard imagesPerDigit >= 1 else { throw fail("images per digit \(imagesPerDigit) must be at least 1") }
        guard corruptClipsPerSplit >= 0, featureDimension > 0 else {
            throw fail("corrupt clips \(corruptClipsPerSplit) must be 0 or more and feature dimension \(featureDimension) positive")
        }
    }
}
