import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import Torch
import VidTagData
import VidTagDemo
import VidTagServer
@testable import VidTagTraining
import ZIPFoundation

/// What the server tests share: the tiny demo data, two tiny models trained for a few steps (one on
/// frame features, one end to end on JPEG frames), what `vidtag predict`'s code path answers for them,
/// and request bodies made from the demo's annotations, features and frames.
enum ServerFixture {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let demoRoot: URL = {
        let root = temporaryFolder("serve-demo")
        do {
            let material = try DemoMaterial.locate(searchStarts: [repository])
            try DemoDataBuilder(material: material, configuration: .tiny(seed: 11)).build(at: root)
        } catch {
            fatalError("building the tiny demo data failed (is scripts/setup.sh's .deps/venv there?): \(error)")
        }
        return root
    }()

    static var demo: DataRoot { DataRoot(url: demoRoot) }

    static let vocabularyFolder: URL = {
        let folder = temporaryFolder("serve-vocab")
        do {
            var texts: [String] = []
            _ = try AnnotationReader(url: demo.annotationsURL(split: "labeled"), labelSpace: nil, policy: .skip).forEach {
                texts += [$0.title, $0.asr, $0.ocrText]
            }
            try CorpusVocabulary.write(CorpusVocabulary.tokens(from: texts), to: folder.appendingPathComponent("vocab.txt"))
        } catch {
            fatalError("writing the demo vocabulary failed: \(error)")
        }
        return folder
    }()

    /// A tiny single-stream run: 1 layer, hidden 32, 4 frames, short texts, a few steps.
    static let tinyOverrides = [
        "seed=11", "model.layers=1", "model.hidden=32", "model.heads=2", "model.intermediate=64",
        "model.max_positions=64", "model.nextvlad_clusters=8", "model.nextvlad_groups=4", "model.nextvlad_output=32",
        "model.fusion_size=32", "data.max_frames=4", "data.title_tokens=12", "data.asr_tokens=12",
        "data.ocr_tokens=12", "data.workers=1", "data.prefetch_batches=2", "train.batch_size=16",
        "train.max_steps=6", "train.eval_every=6", "train.threads=1", "train.log_every=1000",
        "train.warmup_ratio=0.25",
    ]

    static func train(_ name: String, _ extra: [String]) -> URL {
        let run = temporaryFolder(name)
        do {
            let config = try RunConfig.resolve(overrides: tinyOverrides + ["model.vocabulary=\(vocabularyFolder.path)"] + extra)
            _ = try TrainingSession(config: config, data: demo, run: RunFolder(run)).train()
        } catch {
            fatalError("training the tiny \(name) model failed: \(error)")
        }
        return run
    }

    /// A model on the demo's frame features.
    static let featureModel = train("serve-features", [])
    /// A model reading JPEG frames through the tiny CLIP encoder fixture.
    static let frameModel = train("serve-frames", [
        "model.frame_encoder=\(repository.appendingPathComponent("Tests/Fixtures/vision/clip").path)",
        "data.frame_source=frames", "train.max_steps=2", "train.eval_every=2",
    ])

    /// What `vidtag predict`'s code path (``ModelRunner``) gives each video of `split`, by id.
    static func predicted(model: URL, split: String = "test_a") throws -> [String: [Float]] {
        let runner = try ModelRunner(model: model, device: .cpu, workers: 1, batchSize: 8)
        let (predictions, _) = try runner.predict(data: demo, split: split)
        var rows: [String: [Float]] = [:]
        for (row, id) in predictions.ids.enumerated() {
            rows[id] = Array(predictions.probabilities[(row * predictions.classes)..<((row + 1) * predictions.classes)])
        }
        return rows
    }

    /// The records of `split` as `vidtag predict` reads them.
    static func records(split: String = "test_a") throws -> [VideoAnnotation] {
        try AnnotationReader(url: demo.annotationsURL(split: split), policy: .skip).readAll().records
    }

    /// A request video with the record's text and, as asked, its feature rows or its JPEG frames.
    static func video(_ record: VideoAnnotation, features: FeatureArchive? = nil, jpegs: [Data]? = nil) -> [String: Any] {
        var video: [String: Any] = [
            "id": record.id, "title": record.title, "asr": record.asr,
            "ocr": record.ocr.map { ["time": $0.time, "text": $0.text] as [String: Any] },
        ]
        if let features, let matrix = try? features.features(id: record.id) {
            video["frame_features"] = (0..<matrix.frameCount).map { Array(matrix.frame($0)).map(Double.init) }
        }
        if let jpegs { video["frames"] = jpegs.map { $0.base64EncodedString() } }
        return video
    }

    static func featureArchive(split: String = "test_a", dimension: Int) throws -> FeatureArchive {
        try FeatureArchive(url: demo.featuresURL(split: split), nonFinite: .reject, expectedDimension: dimension)
    }

    /// The JPEG members of a video's frame zip, in time order (as the frame reader sorts them).
    static func jpegs(id: String, framesSplit: String = "test_a") throws -> [Data] {
        let url = try demo.framesFolderURL(split: framesSplit).appendingPathComponent(String(id.suffix(3)))
            .appendingPathComponent("\(id).zip")
        let archive = try Archive(url: url, accessMode: .read)
        let members = archive.filter { $0.type == .file }.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return try members.map { member in
            var bytes = Data()
            _ = try archive.extract(member, skipCRC32: true) { bytes.append($0) }
            return bytes
        }
    }

    static func json(_ object: Any) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    static func object(_ body: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])
    }

    /// The full probability row of each answered video (asked with top_k = every class), by id.
    static func probabilities(_ body: ByteBuffer, labels: [String]) throws -> [String: [Float]] {
        let predictions = try #require(try object(body)["predictions"] as? [[String: Any]])
        var rows: [String: [Float]] = [:]
        for prediction in predictions {
            let id = try #require(prediction["id"] as? String)
            let level2 = try #require(prediction["level2"] as? [[String: Any]])
            var row = [Float](repeating: .nan, count: labels.count)
            for entry in level2 {
                let category = try #require(entry["category_id"] as? String)
                let index = try #require(labels.firstIndex(of: category))
                row[index] = Float(try #require((entry["probability"] as? NSNumber)?.doubleValue))
            }
            rows[id] = row
        }
        return rows
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    /// The value of a Prometheus sample line such as `vidtag_batch_size_count` (first match).
    static func metric(_ text: String, _ name: String) -> Double? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == name { return Double(parts[1]) }
        }
        return nil
    }

    static func temporaryFolder(_ name: String) -> URL {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("vidtag-\(name)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }
}
