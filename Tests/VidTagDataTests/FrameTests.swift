import Foundation
import Testing
import Synchronization
import ZIPFoundation

@testable import VidTagData

/// Fixtures from scripts/fixtures/make_frame_fixtures.py (PIL 12 with its bundled libjpeg-turbo, NumPy).
private enum FrameFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/frames")

    struct Manifest: Decodable {
        struct Image: Decodable { let name: String; let width: Int; let height: Int }
        struct Evaluation: Decodable {
            let image: String, resize: Int, crop_height: Int, crop_width: Int, normalization: String, stem: String
        }
        struct ResizedCrop: Decodable {
            let image: String, left: Int, top: Int, width: Int, height: Int
            let output_width: Int, output_height: Int, stem: String
        }
        let images: [Image]
        let evaluation: [Evaluation]
        let resized_crop: [ResizedCrop]
    }

    static func data(_ name: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(name)) }
    static func manifest() throws -> Manifest { try JSONDecoder().decode(Manifest.self, from: data("manifest.json")) }
    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try data(name)) }
    static func floats(_ name: String) throws -> [Float] {
        try data(name).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
    static func pilDecoded(_ name: String) throws -> RGBImage {
        let image = try manifest().images.first { $0.name == name }!
        return RGBImage(width: image.width, height: image.height, pixels: try bytes("\(name).rgb"))
    }
}

/// SplitMix64: a small seeded generator for the tests.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func meanAbsoluteDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
    precondition(a.count == b.count)
    return Double(zip(a, b).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(a.count)
}

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-frames-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A frames directory whose video `videoID` has the zip `zipData` (or `nil`: no zip).
private func framesDirectory(videoID: String, zipData: Data?) throws -> URL {
    let root = try temporaryDirectory()
    if let zipData {
        let folder = root.appendingPathComponent(String(videoID.suffix(3)))
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try zipData.write(to: folder.appendingPathComponent("\(videoID).zip"))
    }
    return root
}

/// 16 px frames, no normalisation (mean 0, std 1): a frame's values are its pixels / 255.
private let plainPreprocessing = FramePreprocessing(
    resizeShorterSide: 16, cropHeight: 16, cropWidth: 16,
    normalization: FrameNormalization(mean: [0, 0, 0], std: [1, 1, 1]))

/// The mean red level (0...255) of each frame slot of `clip`.
private func redLevels(_ clip: VideoClip) -> [Double] {
    let plane = clip.height * clip.width
    return (0..<clip.frameCapacity).map { slot in
        let start = slot * 3 * plane
        return Double(clip.frames[start..<(start + plane)].reduce(0, +)) / Double(plane) * 255
    }
}

@Suite("Frames: JPEG, transforms, frame zips")
struct FrameTests {
    // MARK: JPEG decoding and encoding

    @Test("decoding at scale 1 gives PIL's pixels exactly", arguments: ["landscape_420", "portrait_444", "gray", "wide_422"])
    func decodeMatchesPIL(name: String) throws {
        let decoded = try JPEG.decode(FrameFixtures.data("\(name).jpg"))
        let expected = try FrameFixtures.pilDecoded(name)
        #expect(decoded.width == expected.width && decoded.height == expected.height)
        #expect(decoded.pixels == expected.pixels)
    }

    @Test("DCT scaling picks the smallest scale whose shorter side stays at least the target")
    func dctScaledDecodeSize() throws {
        #expect(JPEG.scalingFactors.contains { $0 == (1, 8) } && JPEG.scalingFactors.contains { $0 == (5, 8) })
        #expect(JPEG.scaledSize(width: 640, height: 360, minimumShorterSide: 224) == (400, 225))
        #expect(JPEG.scaledSize(width: 360, height: 640, minimumShorterSide: 224) == (225, 400))
        #expect(JPEG.scaledSize(width: 640, height: 360, minimumShorterSide: 45) == (80, 45))
        #expect(JPEG.scaledSize(width: 640, height: 360, minimumShorterSide: 400) == (640, 360))
        #expect(JPEG.scaledSize(width: 640, height: 360, minimumShorterSide: nil) == (640, 360))

        let jpeg = try FrameFixtures.data("wide_422.jpg")  // 160 x 90
        let cases: [(Int?, Int, Int)] = [(nil, 160, 90), (90, 160, 90), (200, 160, 90), (46, 100, 57), (45, 80, 45), (12, 20, 12), (1, 20, 12)]
        for (target, width, height) in cases {
            let image = try JPEG.decode(jpeg, minimumShorterSide: target)
            #expect(image.width == width && image.height == height, "target \(String(describing: target))")
        }
        // PIL's draft mode scales with the same libjpeg-turbo DCT: the half-scale decode is the same bytes.
        let half = try JPEG.decode(jpeg, minimumShorterSide: 45)
        #expect(half.pixels == (try FrameFixtures.bytes("wide_422_half.rgb")))
    }

    @Test("encoding then decoding keeps the image; quality trades size for fidelity")
    func encodeRoundTrip() throws {
        let original = try FrameFixtures.pilDecoded("wide_422")
        let fine = try JPEG.encode(original, quality: 95, subsampling: .none444)
        let coarse = try JPEG.encode(original, quality: 20)
        #expect(try JPEG.dimensions(of: fine) == (160, 90))
        #expect(coarse.count < fine.count)
        let fineError = meanAbsoluteDifference(try JPEG.decode(fine).pixels, original.pixels)
        let coarseError = meanAbsoluteDifference(try JPEG.decode(coarse).pixels, original.pixels)
        #expect(fineError < 3)
        #expect(coarseError > fineError)
        let gray = try JPEG.decode(JPEG.encode(original, quality: 90, subsampling: .grayscale))
        #expect(gray[10, 10].0 == gray[10, 10].1 && gray[10, 10].1 == gray[10, 10].2)
    }

    @Test("a truncated JPEG is a warning-level error, garbage a fatal one")
    func corruptJPEGThrows() throws {
        let jpeg = try FrameFixtures.data("landscape_420.jpg")
        do {
            _ = try JPEG.decode(jpeg.prefix(jpeg.count / 2))
            Issue.record("a truncated JPEG decoded without error")
        } catch {
            #expect(error.isWarning)
            #expect(error.description.contains("Premature end"))
        }
        do {
            _ = try JPEG.decode(Data("not a jpeg at all".utf8))
            Issue.record("garbage decoded without error")
        } catch {
            #expect(!error.isWarning)
        }
        #expect(throws: JPEGError.self) { try JPEG.decode(Data()) }
    }

    @Test("a JPEG with a broken Huffman table does not spoil later decodes of good frames")
    func brokenHeaderLeavesTheDecoderUsable() throws {
        let jpeg = try FrameFixtures.data("landscape_420.jpg")
        let good = try JPEG.decode(jpeg)
        var broken = [UInt8](jpeg)
        let marker = try #require((0..<(broken.count - 1)).first { broken[$0] == 0xFF && broken[$0 + 1] == 0xC4 })
        for offset in (marker + 5)..<(marker + 21) { broken[offset] = 0xFF }  // 16 code-length counts → bogus table
        #expect(throws: JPEGError.self) { try JPEG.decode(Data(broken)) }
        for _ in 0..<3 {
            #expect(try JPEG.decode(jpeg).pixels == good.pixels, "good frames still decode after the broken one")
        }
    }

    @Test("many threads decoding and encoding at once get the single-threaded results")
    func concurrentDecoding() throws {
        let names = ["landscape_420", "portrait_444", "gray", "wide_422"]
        let jpegs = try names.map { try FrameFixtures.data("\($0).jpg") }
        let expected = try names.map { try FrameFixtures.pilDecoded($0).pixels }
        let mismatches = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 16) { worker in
            for round in 0..<40 {
                let index = (worker + round) % names.count
                let pixels = try? JPEG.decode(jpegs[index]).pixels
                let reencoded = try? JPEG.encode(RGBImage(width: 8, height: 8, repeating: UInt8(round)), quality: 90)
                if pixels != expected[index] || reencoded == nil { mismatches.withLock { $0 += 1 } }
            }
        }
        #expect(mismatches.withLock { $0 } == 0)
    }

    // MARK: Transforms

    @Test("resize + centre crop + normalise match PIL/NumPy (bytes exactly, Floats within 1e-6)")
    func evaluationMatchesFixture() throws {
        let manifest = try FrameFixtures.manifest()
        #expect(manifest.evaluation.count == 6)
        for case_ in manifest.evaluation {
            let preprocessing = FramePreprocessing(
                resizeShorterSide: case_.resize, cropHeight: case_.crop_height, cropWidth: case_.crop_width,
                normalization: case_.normalization == "clip" ? .clip : .imageNet, decodeWithDCTScaling: false)
            let image = try FrameFixtures.pilDecoded(case_.image)
            let cropped = preprocessing.evaluationImage(image)
            #expect(cropped.pixels == (try FrameFixtures.bytes("\(case_.stem).rgb")), "\(case_.stem)")
            let values = preprocessing.evaluationFrame(image)
            let expected = try FrameFixtures.floats("\(case_.stem).f32")
            #expect(values.count == expected.count)
            let worst = zip(values, expected).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= 1e-6, "\(case_.stem): largest difference \(worst)")
        }
    }

    @Test("with DCT-scaled decoding, a smooth frame's evaluation input stays within 1 level on average of the full decode's")
    func dctScaledEvaluationIsClose() throws {
        var pixels = [UInt8](repeating: 0, count: 320 * 176 * 3)
        for y in 0..<176 {
            for x in 0..<320 {
                let offset = (y * 320 + x) * 3
                pixels[offset] = UInt8(128 + 100 * sin(Double(x) / 20) * cos(Double(y) / 25))
                pixels[offset + 1] = UInt8(128 + 90 * cos(Double(x) / 27) + 20 * sin(Double(y) / 8))
                pixels[offset + 2] = UInt8(255 * y / 175)
            }
        }
        let jpeg = try JPEG.encode(RGBImage(width: 320, height: 176, pixels: pixels), quality: 90)
        var preprocessing = FramePreprocessing(resizeShorterSide: 64, cropHeight: 56, cropWidth: 56, normalization: .clip)
        let scaled = try JPEG.decode(jpeg, minimumShorterSide: preprocessing.decodeMinimumShorterSide)
        #expect(scaled.width == 120 && scaled.height == 66)  // 3/8 scale
        preprocessing.decodeWithDCTScaling = false
        let full = try JPEG.decode(jpeg, minimumShorterSide: preprocessing.decodeMinimumShorterSide)
        #expect(full.width == 320)
        let difference = meanAbsoluteDifference(preprocessing.evaluationImage(scaled).pixels, preprocessing.evaluationImage(full).pixels)
        #expect(difference < 1, "mean difference \(difference) of 255")
    }

    @Test("crop-then-resize matches PIL's crop + resize exactly")
    func resizedCropMatchesFixture() throws {
        for case_ in try FrameFixtures.manifest().resized_crop {
            let image = try FrameFixtures.pilDecoded(case_.image)
            let region = PixelRegion(left: case_.left, top: case_.top, width: case_.width, height: case_.height)
            let resized = BilinearResampler.resize(image, source: region, width: case_.output_width, height: case_.output_height)
            #expect(resized.pixels == (try FrameFixtures.bytes("\(case_.stem).rgb")), "\(case_.stem)")
        }
    }

    @Test("resizing only a window gives the same bytes as resizing in full and cropping; outside is black")
    func windowedResize() throws {
        let image = try FrameFixtures.pilDecoded("wide_422")
        let full = BilinearResampler.resize(image, width: 71, height: 40)
        for window in [PixelRegion(left: 13, top: 4, width: 30, height: 29), PixelRegion(left: 0, top: 0, width: 71, height: 40),
                       PixelRegion(left: 60, top: 30, width: 20, height: 20)] {
            let direct = BilinearResampler.resize(image, width: 71, height: 40, keeping: window)
            #expect(direct == full.cropped(to: window), "\(window)")
        }
        let outside = BilinearResampler.resize(image, width: 71, height: 40, keeping: PixelRegion(left: 60, top: 30, width: 20, height: 20))
        #expect(outside[19, 19] == (0, 0, 0))
    }

    @Test("horizontal flip mirrors columns and is its own inverse")
    func flip() throws {
        let image = try FrameFixtures.pilDecoded("portrait_444")
        let flipped = image.flippedHorizontally()
        #expect(flipped != image)
        #expect(flipped.flippedHorizontally() == image)
        for (x, y) in [(0, 0), (5, 17), (36, 52)] {
            #expect(flipped[x, y] == image[image.width - 1 - x, y])
        }
        // Augmentation that always flips and always takes the whole image = flip of a plain resize.
        var preprocessing = FramePreprocessing(resizeShorterSide: 20, cropHeight: 20, cropWidth: 14, normalization: .clip)
        preprocessing.augmentation = FrameAugmentation(scale: 1...1, ratio: (37.0 / 53)...(37.0 / 53), horizontalFlipProbability: 1)
        var generator = SeededGenerator(seed: 1)
        let augmented = preprocessing.trainingImage(image, using: &generator)
        #expect(augmented == BilinearResampler.resize(image, width: 14, height: 20).flippedHorizontally())
    }

    @Test("random resized crops are reproducible from a seed, lie inside the image and follow the settings")
    func randomCropDeterminism() {
        let augmentation = FrameAugmentation()
        func regions(seed: UInt64) -> [PixelRegion] {
            var generator = SeededGenerator(seed: seed)
            return (0..<50).map { _ in augmentation.cropRegion(width: 640, height: 360, using: &generator) }
        }
        let first = regions(seed: 42)
        #expect(first == regions(seed: 42))
        #expect(first != regions(seed: 43))
        for region in first {
            #expect(region.left >= 0 && region.top >= 0 && region.left + region.width <= 640 && region.top + region.height <= 360)
            let areaFraction = Double(region.width * region.height) / Double(640 * 360)
            #expect(areaFraction > 0.07 && areaFraction < 1.01, "\(region)")
        }
        #expect(Set(first.map(\.left)).count > 10)

        // No draw can fit a ratio of 10...20 in a square: torchvision's fallback, the widest centred crop.
        var generator = SeededGenerator(seed: 7)
        let fallback = FrameAugmentation(ratio: 10...20).cropRegion(width: 100, height: 100, using: &generator)
        #expect(fallback == PixelRegion(left: 0, top: 45, width: 100, height: 10))
    }

    // MARK: Frame selection and frame zips

    @Test("evaluation takes the reference's even stride; training a seeded random sorted subset")
    func frameSelection() {
        #expect(FrameSelection.evenStride(frameCount: 20, maxFrames: 8) == [0, 2, 4, 6, 8, 10, 12, 14])
        #expect(FrameSelection.evenStride(frameCount: 32, maxFrames: 8) == [0, 4, 8, 12, 16, 20, 24, 28])
        #expect(FrameSelection.evenStride(frameCount: 15, maxFrames: 8) == Array(0..<8))
        #expect(FrameSelection.evenStride(frameCount: 8, maxFrames: 8) == Array(0..<8))
        #expect(FrameSelection.evenStride(frameCount: 5, maxFrames: 8) == Array(0..<5))
        #expect(FrameSelection.evenStride(frameCount: 0, maxFrames: 8) == [])

        var generator = SeededGenerator(seed: 3)
        #expect(FrameSelection.randomSubset(frameCount: 5, maxFrames: 8, using: &generator) == Array(0..<5))
        var seen = Set<Int>()
        for seed in 0..<20 as Range<UInt64> {
            var a = SeededGenerator(seed: seed), b = SeededGenerator(seed: seed)
            let subset = FrameSelection.randomSubset(frameCount: 32, maxFrames: 8, using: &a)
            #expect(subset == FrameSelection.randomSubset(frameCount: 32, maxFrames: 8, using: &b))
            #expect(subset.count == 8 && subset == subset.sorted() && Set(subset).count == 8 && subset.allSatisfy { (0..<32).contains($0) })
            seen.formUnion(subset)
        }
        #expect(seen.count > 28)
    }

    @Test("frame zips (stored or deflated) give frames in sorted member-name order", arguments: ["clip_stored.zip", "clip_deflated.zip"])
    func frameZipOrder(zipName: String) throws {
        let videoID = "1234567890123456789"
        let directory = try framesDirectory(videoID: videoID, zipData: FrameFixtures.data(zipName))
        defer { try? FileManager.default.removeItem(at: directory) }

        let reader = VideoFrameReader(framesDirectory: directory, maxFrames: 8, preprocessing: plainPreprocessing)
        #expect(reader.zipURL(videoID: videoID).path.hasSuffix("/789/\(videoID).zip"))
        let clip = reader.evaluationClip(videoID: videoID)
        #expect(clip.issues.isEmpty)
        #expect(clip.mask == [1, 1, 1, 1, 1, 0, 0, 0])
        #expect(clip.framesInZip == 5)
        #expect(clip.frames.count == 8 * 3 * 16 * 16)
        let levels = redLevels(clip)
        for (slot, expected) in [20.0, 60, 100, 140, 180, 0, 0, 0].enumerated() {
            #expect(abs(levels[slot] - expected) < 3, "slot \(slot): red \(levels[slot]), expected \(expected)")
        }

        let strided = VideoFrameReader(framesDirectory: directory, maxFrames: 2, preprocessing: plainPreprocessing)
            .evaluationClip(videoID: videoID)
        #expect(strided.mask == [1, 1])
        #expect(zip(redLevels(strided), [20.0, 100]).allSatisfy { abs($0 - $1) < 3 })

        let training = VideoFrameReader(framesDirectory: directory, maxFrames: 3, preprocessing: .clip(size: 12))
        var a = SeededGenerator(seed: 9), b = SeededGenerator(seed: 9)
        let clipA = training.trainingClip(videoID: videoID, using: &a)
        #expect(clipA.mask == [1, 1, 1])
        #expect(clipA.frames == training.trainingClip(videoID: videoID, using: &b).frames)
    }

    @Test("a truncated and a garbage member are skipped, named and counted")
    func damagedFramesAreCounted() throws {
        let videoID = "9990000000000000042"
        let directory = try framesDirectory(videoID: videoID, zipData: FrameFixtures.data("clip_damaged.zip"))
        defer { try? FileManager.default.removeItem(at: directory) }
        let clip = VideoFrameReader(framesDirectory: directory, maxFrames: 4, preprocessing: plainPreprocessing)
            .evaluationClip(videoID: videoID)
        #expect(clip.mask == [1, 1, 0, 0])
        #expect(zip(redLevels(clip), [20.0, 140]).allSatisfy { abs($0 - $1) < 3 })
        #expect(clip.issues.map(\.kind) == [.unreadableFrame, .unreadableFrame])
        #expect(clip.issues.map(\.member) == ["frame_001.jpg", "frame_002.jpg"])
        #expect(clip.issues.allSatisfy { $0.videoID == videoID && $0.description.contains(videoID) })

        var report = FrameReadReport()
        report.record(clip)
        report.record(clip)
        #expect(report.clipCount == 2 && report.framesRead == 4 && report.unreadableFrames == 4 && report.videosWithoutFrames == 0)
        var merged = FrameReadReport()
        merged.merge(report)
        #expect(merged.unreadableFrames == 4 && merged.issues.count == 4)
    }

    @Test("an empty zip, a missing zip and a file that is not a zip give an all-zero mask, no crash")
    func emptyMissingAndInvalidZips() throws {
        let emptyArchive = try Archive(data: Data(), accessMode: .create)
        let cases: [(Data?, FrameIssue.Kind)] = [
            (emptyArchive.data!, .noFrames), (nil, .missingZip), (Data("definitely not a zip".utf8), .unreadableZip),
        ]
        var report = FrameReadReport()
        for (zipData, kind) in cases {
            let videoID = "1000000000000000\(kind == .noFrames ? 1 : 2)77"
            let directory = try framesDirectory(videoID: videoID, zipData: zipData)
            defer { try? FileManager.default.removeItem(at: directory) }
            let clip = VideoFrameReader(framesDirectory: directory, maxFrames: 4, preprocessing: plainPreprocessing)
                .evaluationClip(videoID: videoID)
            #expect(clip.mask == [0, 0, 0, 0], "\(kind)")
            #expect(clip.frames.allSatisfy { $0 == 0 })
            #expect(clip.issues.first?.kind == kind)
            report.record(clip)
        }
        #expect(report.missingZips == 1 && report.unreadableZips == 1 && report.videosWithoutFrames == 3)
    }

    @Test("many threads reading clips at once get the same clips")
    func concurrentClipReading() throws {
        let videoID = "5555555555555555555"
        let directory = try framesDirectory(videoID: videoID, zipData: FrameFixtures.data("clip_deflated.zip"))
        defer { try? FileManager.default.removeItem(at: directory) }
        let reader = VideoFrameReader(framesDirectory: directory, maxFrames: 4, preprocessing: .clip(size: 14))
        let expected = reader.evaluationClip(videoID: videoID).frames
        let mismatches = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10 where reader.evaluationClip(videoID: videoID).frames != expected {
                mismatches.withLock { $0 += 1 }
            }
        }
        #expect(mismatches.withLock { $0 } == 0)
    }
}
