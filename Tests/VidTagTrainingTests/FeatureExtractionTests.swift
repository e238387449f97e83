import Foundation
import Testing
import Torch
import VidTagData
import VidTagModels
@testable import VidTagTraining

/// The two-stage route: zip_frames → a frame encoder → zip_feats in the challenge's format, resumable.
@Suite(.serialized) struct FeatureExtractionTests {
    static let encoderFolder = TrainingFixture.repository.appendingPathComponent("Tests/Fixtures/vision/clip")

    /// A data root holding the tiny demo's annotations and frames, but no features.
    static func framesOnlyRoot() throws -> DataRoot {
        let root = TrainingFixture.temporaryFolder("extract")
        for folder in ["annotations", "zip_frames"] {
            try FileManager.default.copyItem(at: TrainingFixture.demoRoot.appendingPathComponent(folder),
                                             to: root.appendingPathComponent(folder))
        }
        return DataRoot(url: root)
    }

    static func extraction(maxFrames: Int = 4) throws -> FeatureExtraction {
        let folder = FrameEncoderFolder(encoderFolder)
        let (encoder, _) = try folder.loadEncoder(ParameterStore(seed: 0).root)
        let preprocessing = try FramePreprocessing(encoder: try folder.preprocessing(), fallbackSize: encoder.imageSize)
        return FeatureExtraction(encoder: encoder, preprocessing: preprocessing, device: .cpu, batchFrames: 16,
                                 maxFrames: maxFrames)
    }

    @Test("every video gets [n, D] float16 rows equal to the encoder's output on its decoded frames")
    func writesTheChallengeFormat() throws {
        let data = try Self.framesOnlyRoot()
        let extraction = try Self.extraction()
        let summary = try extraction.run(data: data, split: "test_a")
        let archive = try FeatureArchive(url: try data.featuresURL(split: "test_a"), nonFinite: .reject,
                                         expectedDimension: extraction.encoder.outputSize)
        var ids: [String] = []
        _ = try AnnotationReader(url: try data.annotationsURL(split: "test_a"), labelSpace: nil, policy: .skip).forEach {
            ids.append($0.id)
        }
        #expect(archive.count == ids.count)
        #expect(summary.videos == ids.count)
        #expect(!FileManager.default.fileExists(atPath: data.url.appendingPathComponent("zip_feats/.test_a.partial").path))

        let reader = VideoFrameReader(framesDirectory: try data.framesFolderURL(split: "test_a"), maxFrames: 4,
                                      preprocessing: extraction.preprocessing)
        for id in ids.prefix(3) {
            let stored = try archive.features(id: id)
            let clip = reader.evaluationClip(videoID: id)
            #expect(stored.frameCount == clip.validFrameCount)
            guard clip.validFrameCount > 0 else { continue }
            let pixels = Tensor(Array(clip.frames.prefix(clip.validFrameCount * extraction.preprocessing.valuesPerFrame)),
                                shape: [clip.validFrameCount, 3, extraction.preprocessing.cropHeight,
                                        extraction.preprocessing.cropWidth])
            let direct = withNoGrad { extraction.encoder.encodeFrames(pixels, train: false) }.toArray(Float.self)
            let difference = zip(direct, stored.values).map { abs($0 - $1) }.max() ?? 0
            #expect(difference < 2e-3 * (direct.map(abs).max() ?? 1) + 1e-3, "float16 rounding only, got \(difference)")
        }
    }

    @Test("an interrupted run resumes: videos already written are kept, not encoded again")
    func resumes() throws {
        let data = try Self.framesOnlyRoot()
        var ids: [String] = []
        _ = try AnnotationReader(url: try data.annotationsURL(split: "test_a"), labelSpace: nil, policy: .skip).forEach {
            ids.append($0.id)
        }
        let extraction = try Self.extraction()
        let partial = data.url.appendingPathComponent("zip_feats/.test_a.partial")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        let marker = [Float](repeating: 0.5, count: 2 * extraction.encoder.outputSize)
        try Npy.encode(values: marker, shape: [2, extraction.encoder.outputSize], dtype: .float16)
            .write(to: partial.appendingPathComponent("\(ids[0]).npy"))
        let summary = try extraction.run(data: data, split: "test_a")
        #expect(summary.skippedAlreadyDone == 1)
        #expect(summary.videos == ids.count - 1)
        let archive = try FeatureArchive(url: try data.featuresURL(split: "test_a"), nonFinite: .reject,
                                         expectedDimension: extraction.encoder.outputSize)
        #expect(try archive.features(id: ids[0]).values == marker, "the finished video was kept as it was")
    }
}
