import Foundation
import Testing

@testable import VidTagData
@testable import VidTagDemo

/// The tiny demo data set (``DemoDataConfiguration/tiny``), built once per test run from the material
/// scripts/setup.sh installs into .deps/venv, and the Chinese BERT vocabulary (Tests/Fixtures/wechat2022).
enum DemoFixture {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Each piece is built once and kept with its error: a missing piece fails the tests that need it, with the
    /// reason, instead of stopping the test process.
    static let materialResult = Result { try DemoMaterial.locate(searchStarts: [repository]) }

    /// The tiny build with seed 7, and its summary.
    static let built = Result { () throws -> (root: URL, summary: DemoDataSummary) in
        let root = temporaryFolder("demo-tiny")
        do {
            let summary = try DemoDataBuilder(material: try materialResult.get(), configuration: .tiny(seed: 7)).build(at: root)
            return (root, summary)
        } catch {
            throw FixtureError("building the tiny demo data failed (is scripts/setup.sh's .deps/venv there?): \(error)")
        }
    }

    static let tokenizerResult = Result { () throws -> BertTokenizer in
        let vocabulary = repository.appendingPathComponent("Tests/Fixtures/wechat2022/bert_zh_vocab.txt")
        do {
            return try BertTokenizer(vocabulary: try Vocabulary(contentsOf: vocabulary.path))
        } catch {
            throw FixtureError("cannot read the Chinese BERT vocabulary \(vocabulary.path): \(error)")
        }
    }

    static var material: DemoMaterial { get throws { try materialResult.get() } }
    static var root: URL { get throws { try built.get().root } }
    static var summary: DemoDataSummary { get throws { try built.get().summary } }
    static var tokenizer: BertTokenizer { get throws { try tokenizerResult.get() } }

    static func temporaryFolder(_ name: String) -> URL {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("vidtag-\(name)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    static func records(_ split: String) throws -> [VideoAnnotation] {
        try AnnotationReader(url: try root.appendingPathComponent("annotations/\(split).json")).readAll().records
    }
}

/// A fixture that could not be made: the tests that need it fail with this message.
struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite("Demo data")
struct DemoDataTests {
    @Test("the same seed gives the same bytes; another seed other bytes")
    func determinism() throws {
        let again = DemoFixture.temporaryFolder("demo-again")
        let other = DemoFixture.temporaryFolder("demo-other")
        defer {
            try? FileManager.default.removeItem(at: again)
            try? FileManager.default.removeItem(at: other)
        }
        try DemoDataBuilder(material: DemoFixture.material, configuration: .tiny(seed: 7)).build(at: again)
        try DemoDataBuilder(material: DemoFixture.material, configuration: .tiny(seed: 8)).build(at: other)
        func bytes(_ root: URL, _ path: String) throws -> Data { try Data(contentsOf: root.appendingPathComponent(path)) }
        let firstId = try DemoFixture.records("labeled")[0].id
        let frameZip = "zip_frames/labeled/\(firstId.suffix(3))/\(firstId).zip"
        for path in ["annotations/labeled.json", "annotations/test_a.json", "zip_feats/labeled.zip", "zip_feats/unlabeled.zip",
                     "test_a_truth.csv", frameZip] {
            #expect(try bytes(DemoFixture.root, path) == bytes(again, path), "\(path) differs between two builds with seed 7")
        }
        #expect(try bytes(DemoFixture.root, "annotations/labeled.json") != bytes(other, "annotations/labeled.json"))
        #expect(try bytes(DemoFixture.root, "zip_feats/labeled.zip") != bytes(other, "zip_feats/labeled.zip"))
    }

    @Test("layout: every video has annotations, a feature member and a frame zip; test truth kept apart")
    func layout() throws {
        let root = DataRoot(url: try DemoFixture.root)
        let labelSpace = LabelSpace.wechat2022
        var allIds = Set<String>()
        for split in DemoDataBuilder.splitNames {
            let records = try DemoFixture.records(split)
            let expected = try DemoFixture.summary.splits.first { $0.name == split }!
            #expect(records.count == expected.videos)
            let features = try FeatureArchive(url: try root.featuresURL(split: split), expectedDimension: 768)
            #expect(features.count == records.count)
            for record in records {
                #expect(allIds.insert(record.id).inserted, "id \(record.id) appears twice")
                #expect((19...20).contains(record.id.count) && record.id.allSatisfy(\.isNumber) && record.id.first != "0")
                #expect(features.contains(id: record.id), "\(split): no feature member for \(record.id)")
                #expect(FileManager.default.fileExists(atPath: root.frameZipURL(split: split, id: record.id).path))
                if split == "labeled" {
                    #expect(record.categoryId.map(labelSpace.contains) == true)
                } else {
                    #expect(record.categoryId == nil, "\(split) must not carry category_id")
                }
            }
            #expect(!expected.emptyClipIds.isEmpty && expected.corruptClipIds.count == 1)
            for id in expected.emptyClipIds {
                let reader = VideoFrameReader(dataRoot: root.url, split: split, maxFrames: 4, preprocessing: .clip(size: 16))
                let clip = reader.evaluationClip(videoID: id)
                #expect(clip.framesInZip == 0 && clip.validFrameCount == 0)
                #expect(try features.features(id: id).frameCount == 0)
            }
        }
        let testIds = try DemoFixture.records("test_a").map(\.id)
        let truth = try String(contentsOf: DemoFixture.root.appendingPathComponent(DemoDataBuilder.testTruthFile), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        #expect(truth.map { $0[0] } == testIds)
        #expect(truth.allSatisfy { $0.count == 2 && labelSpace.contains($0[1]) })
        let labels = try LabelSpace(contentsOf: DemoFixture.root.appendingPathComponent("labels.json"))
        #expect(labels.level2Count == 61 && labels.level1Count == 10)
    }

    @Test("level-2 children per level-1 class follow the real WeChat shape, child k showing digit k")
    func labelPlan() {
        let plan = DemoLabelPlan()
        let children = Dictionary(grouping: plan.classes, by: \.level1Id).mapValues(\.count)
        #expect(children.keys.sorted().map { children[$0]! } == [9, 5, 9, 6, 6, 3, 3, 6, 6, 8])
        for demoClass in plan.classes {
            #expect(demoClass.level2Id.hasPrefix(demoClass.level1Id))
            #expect(demoClass.digit == Int(demoClass.level2Id.suffix(2))!)
            #expect(demoClass.topicIndex == Int(demoClass.level1Id)!)
        }
        let allocation = plan.allocation(total: 6000)
        #expect(allocation.reduce(0, +) == 6000)
        #expect(allocation.allSatisfy { $0 > 0 })
        #expect(plan.classes[allocation.firstIndex(of: allocation.max()!)!].level2Id == "0402")
    }

    @Test("the text decides level 1 and only the frames decide level 2")
    func labelStructure() throws {
        let plan = DemoLabelPlan()
        let classById = Dictionary(uniqueKeysWithValues: plan.classes.map { ($0.level2Id, $0) })
        let records = try DemoFixture.records("labeled")
        let features = try FeatureArchive(url: DemoFixture.root.appendingPathComponent("zip_feats/labeled.zip"))
        var meanFeatures: [(digit: Int, level1: String, vector: [Float])] = []
        for record in records {
            let demoClass = try #require(classById[record.categoryId!])
            let topic = try DemoFixture.material.topics[demoClass.topicIndex]
            if !record.title.isEmpty { #expect(topic.sentences.contains(record.title)) }
            if !record.asr.isEmpty { #expect(topic.paragraphs.contains(record.asr)) }
            let matrix = try features.features(id: record.id)
            guard matrix.frameCount > 0 else { continue }
            var mean = [Float](repeating: 0, count: matrix.dimension)
            for frame in 0..<matrix.frameCount {
                for (slot, value) in matrix.frame(frame).enumerated() { mean[slot] += value / Float(matrix.frameCount) }
            }
            meanFeatures.append((demoClass.digit, demoClass.level1Id, mean))
        }
        // Leave-one-out nearest digit centroid over the features: the digit (level 2 within level 1) is
        // in the frames, whatever the topic.
        let dimension = 768
        var sums = [[Float]](repeating: [Float](repeating: 0, count: dimension), count: 10)
        var counts = [Int](repeating: 0, count: 10)
        for video in meanFeatures {
            counts[video.digit] += 1
            for slot in 0..<dimension { sums[video.digit][slot] += video.vector[slot] }
        }
        var correct = 0
        for video in meanFeatures {
            var best = (digit: -1, distance: Float.infinity)
            for digit in 0..<10 {
                let others = counts[digit] - (digit == video.digit ? 1 : 0)
                guard others > 0 else { continue }
                var distance: Float = 0
                for slot in 0..<dimension {
                    let own = digit == video.digit ? video.vector[slot] : 0
                    let difference = (sums[digit][slot] - own) / Float(others) - video.vector[slot]
                    distance += difference * difference
                }
                if distance < best.distance { best = (digit, distance) }
            }
            if best.digit == video.digit { correct += 1 }
        }
        let accuracy = Double(correct) / Double(meanFeatures.count)
        #expect(accuracy > 0.6, "nearest-centroid digit accuracy \(accuracy) (chance 0.1)")
    }

    @Test("missing material names the places looked in and scripts/setup.sh")
    func missingMaterial() {
        let empty = DemoFixture.temporaryFolder("no-material")
        #expect {
            _ = try DemoMaterial.locate(environment: [:], searchStarts: [empty])
        } throws: { error in
            let text = "\(error)"
            return text.contains("scripts/setup.sh") && text.contains(empty.path)
        }
        #expect(throws: DemoDataError.self) { try DemoDataBuilder(material: DemoFixture.material, configuration: .init(frameSide: 2)) }
    }
}
