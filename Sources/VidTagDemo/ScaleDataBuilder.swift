import Foundation
import VidTagData

/// A data root for memory checks at the real data set's scale: a demo root's splits with small feature arrays
/// (the first `featureSize` values of at most `frames` evenly spaced frames, float16), and an `unlabeled` split
/// of `unlabeledCount` videos made by repeating the demo's unlabelled records, text included, under new
/// 19-digit ids (the WeChat ids' shape). Frames (`zip_frames`) are not copied.
public struct ScaleDataBuilder {
    public var source: DataRoot
    public var unlabeledCount: Int
    public var frames: Int
    public var featureSize: Int

    public init(source: DataRoot, unlabeledCount: Int, frames: Int = 4, featureSize: Int = 32) throws {
        guard unlabeledCount > 0, frames > 0, featureSize > 0 else {
            throw DemoDataError.invalidConfiguration(
                problem: "unlabelled videos (\(unlabeledCount)), frames (\(frames)) and feature size (\(featureSize)) must be positive")
        }
        self.source = source
        self.unlabeledCount = unlabeledCount
        self.frames = frames
        self.featureSize = featureSize
    }

    /// The id of the `index`-th generated video: 19 digits starting with 9.
    public static func generatedId(_ index: Int) -> String {
        let digits = String(index)
        return "9" + String(repeating: "0", count: max(0, 18 - digits.count)) + digits
    }

    /// Writes the root at `root` (created if needed); `log` hears one line per split.
    public func build(at root: URL, log: (String) -> Void = { _ in }) throws {
        let fileManager = FileManager.default
        for folder in ["annotations", "zip_feats"] {
            try fileManager.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        for name in [LabelSpace.dataRootFileName, DemoDataBuilder.testTruthFile, "demo.json"] {
            let from = source.url.appendingPathComponent(name)
            let to = root.appendingPathComponent(name)
            guard fileManager.fileExists(atPath: from.path) else { continue }
            try? fileManager.removeItem(at: to)
            try fileManager.copyItem(at: from, to: to)
        }
        for split in source.annotatedSplits() where split != "unlabeled" {
            let annotations = root.appendingPathComponent("annotations/\(split).json")
            try? fileManager.removeItem(at: annotations)
            try fileManager.copyItem(at: try source.annotationsURL(split: split), to: annotations)
            guard let archive = try? FeatureArchive(url: try source.featuresURL(split: split), nonFinite: .replaceWithZero) else { continue }
            let writer = try StoredZipWriter(url: root.appendingPathComponent("zip_feats/\(split).zip"))
            var count = 0
            _ = try AnnotationReader(url: try source.annotationsURL(split: split), labelSpace: nil, policy: .skip).forEach { record in
                guard let features = try? archive.features(id: record.id) else { return }
                try writer.add(name: "\(record.id).npy", data: small(features))
                count += 1
            }
            try writer.finish()
            log("\(split): \(count) videos copied with \(frames) × \(featureSize) features")
        }
        // The demo's unlabelled videos, repeated under new ids.
        var records: [VideoAnnotation] = []
        _ = try AnnotationReader(url: try source.annotationsURL(split: "unlabeled"), labelSpace: nil, policy: .skip)
            .forEach { records.append($0) }
        guard !records.isEmpty else {
            throw DemoDataError.invalidConfiguration(problem: "\(source.url.path) has no unlabelled video to repeat")
        }
        let archive = try FeatureArchive(url: try source.featuresURL(split: "unlabeled"), nonFinite: .replaceWithZero)
        let features = records.map { (try? archive.features(id: $0.id)).map(small) }
        let annotations = try AnnotationWriter(url: root.appendingPathComponent("annotations/unlabeled.json"))
        let writer = try StoredZipWriter(url: root.appendingPathComponent("zip_feats/unlabeled.zip"))
        for index in 0..<unlabeledCount {
            var record = records[index % records.count]
            record.id = Self.generatedId(index)
            record.categoryId = nil
            try annotations.append(record)
            if let member = features[index % records.count] { try writer.add(name: "\(record.id).npy", data: member) }
        }
        try annotations.finish()
        try writer.finish()
        log("unlabeled: \(unlabeledCount) videos from \(records.count) demo records")
    }

    /// The first `featureSize` values of up to `frames` evenly spaced frames, as a float16 `.npy`.
    func small(_ features: FrameFeatures) -> Data {
        let chosen = FrameSelection.evenStride(frameCount: features.frameCount, maxFrames: frames)
        let width = min(featureSize, features.dimension)
        var values: [Float] = []
        values.reserveCapacity(chosen.count * featureSize)
        for frame in chosen {
            values += features.frame(frame).prefix(width)
            values += [Float](repeating: 0, count: featureSize - width)
        }
        return Npy.encode(values: values, shape: [chosen.count, featureSize], dtype: .float16)
    }
}
