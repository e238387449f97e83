import Foundation
import Testing

@testable import VidTagData

private let smallFrames = FramePreprocessing(resizeShorterSide: 32, cropHeight: 32, cropWidth: 32, normalization: .clip)

private func featureBuilder(mode: SampleMode, maxFrames: Int = 4, split: String = "labeled") throws -> SampleBuilder {
    try SampleBuilder(
        dataRoot: DataRoot(url: DemoFixture.root), split: split, tokenizer: DemoFixture.tokenizer,
        budgets: TextBudgets(title: 16, asr: 24, ocr: 8), maxFrames: maxFrames, frameSource: .features(dimension: 768),
        labelSpace: .wechat2022, mode: mode)
}

@Suite("Samples")
struct SampleTests {
    @Test("evaluation takes an even stride of the frames, pads with a zero mask")
    func evenStride() throws {
        let builder = try featureBuilder(mode: .evaluate)
        let archive = try FeatureArchive(url: DemoFixture.root.appendingPathComponent("zip_feats/labeled.zip"))
        var checkedLong = false, checkedShort = false
        for position in 0..<builder.count {
            let sample = try builder.sample(at: position)
            let raw = try archive.features(id: sample.id)
            let expected = FrameSelection.evenStride(frameCount: raw.frameCount, maxFrames: 4)
            #expect(sample.frames.count == 4 * 768 && sample.frameShape == [768])
            #expect(sample.frameMask == (0..<4).map { $0 < expected.count ? 1 : 0 })
            for (slot, frame) in expected.enumerated() {
                #expect(Array(sample.frames[(slot * 768)..<((slot + 1) * 768)]) == Array(raw.frame(frame)))
            }
            #expect(sample.frames[(expected.count * 768)...].allSatisfy { $0 == 0 })
            if raw.frameCount > 4 { checkedLong = true } else if raw.frameCount < 4 { checkedShort = true }
        }
        #expect(checkedLong && checkedShort)
        #expect(FrameSelection.evenStride(frameCount: 7, maxFrames: 4) == [0, 1, 2, 3])
        #expect(FrameSelection.evenStride(frameCount: 8, maxFrames: 4) == [0, 2, 4, 6])
    }

    @Test("training takes a random sorted subset, fixed by (seed, epoch, position)")
    func randomSubset() throws {
        let builder = try featureBuilder(mode: .train(seed: 3))
        let archive = try FeatureArchive(url: DemoFixture.root.appendingPathComponent("zip_feats/labeled.zip"))
        var differsByEpoch = false, notEvenStride = false
        for position in 0..<40 {
            let sample = try builder.sample(at: position, epoch: 0)
            let raw = try archive.features(id: sample.id)
            let chosen = (0..<sample.frameMask.reduce(0) { $0 + Int($1) }).map { slot in
                (0..<raw.frameCount).first { Array(raw.frame($0)) == Array(sample.frames[(slot * 768)..<((slot + 1) * 768)]) }
            }
            #expect(chosen.count == min(raw.frameCount, 4))
            let indices = chosen.compactMap { $0 }
            #expect(indices.count == chosen.count, "every training frame is one of the video's frames")
            #expect(indices == indices.sorted() && Set(indices).count == indices.count, "frames stay in time order")
            let again = try builder.sample(at: position, epoch: 0)
            #expect(again.frames == sample.frames && again.frameMask == sample.frameMask)
            if raw.frameCount > 4 {
                if try builder.sample(at: position, epoch: 1).frames != sample.frames { differsByEpoch = true }
                if indices != FrameSelection.evenStride(frameCount: raw.frameCount, maxFrames: 4) { notEvenStride = true }
            }
        }
        #expect(differsByEpoch && notEvenStride)
        let otherSeed = try featureBuilder(mode: .train(seed: 4))
        let differsBySeed = try (0..<40).contains { try otherSeed.sample(at: $0).frames != builder.sample(at: $0).frames }
        #expect(differsBySeed)
    }

    @Test("text is [CLS] title [SEP] asr [SEP] ocr [SEP] within budgets; labels from the label space")
    func textAndLabels() throws {
        let builder = try featureBuilder(mode: .evaluate)
        let records = try DemoFixture.records("labeled")
        let ids = try DemoFixture.tokenizer.vocabulary.specialTokenIDs
        for position in 0..<30 {
            let sample = try builder.sample(at: position)
            let record = records[position]
            #expect(sample.id == record.id)
            #expect(sample.label == LabelSpace.wechat2022.level2Index(of: record.categoryId!))
            let expected = try DemoFixture.tokenizer.encode(segments: [
                TextSegment(name: "title", text: record.title, maxTokens: 16),
                TextSegment(name: "asr", text: record.asr, maxTokens: 24),
                TextSegment(name: "ocr", text: record.ocrText, maxTokens: 8),
            ])
            #expect(sample.text == expected)
            #expect(sample.text.ids.first == ids.classifier && sample.text.ids.filter { $0 == ids.separator }.count == 3)
            #expect(sample.text.count <= 1 + 16 + 24 + 8 + 3)
        }
        let unlabeled = try featureBuilder(mode: .evaluate, split: "unlabeled")
        #expect(try unlabeled.sample(at: 0).label == nil)
    }

    @Test("pixel frames: corrupt JPEGs and empty clips are counted, not thrown")
    func pixelFrames() throws {
        let root = DataRoot(url: try DemoFixture.root)
        let index = try VideoIndex(dataRoot: root, split: "labeled", tokenizer: DemoFixture.tokenizer, labelSpace: .wechat2022)
        let builder = try SampleBuilder(dataRoot: root, split: "labeled", index: index, maxFrames: 8,
                                        frameSource: .pixels(smallFrames), mode: .evaluate)
        let split = try DemoFixture.summary.splits[0]
        let empty = try builder.sample(at: index.ids.firstIndex(of: split.emptyClipIds[0])!)
        #expect(empty.frameMask.allSatisfy { $0 == 0 } && empty.frameShape == [3, 32, 32])
        #expect(empty.report.frames.videosWithoutFrames == 1)
        let corrupt = try builder.sample(at: index.ids.firstIndex(of: split.corruptClipIds[0])!)
        #expect(corrupt.report.frames.unreadableFrames == 1)
        #expect(corrupt.frameMask.reduce(0, +) >= 1)
    }

    @Test("a batch holds flat row-major buffers with their shapes")
    func collate() throws {
        let builder = try featureBuilder(mode: .evaluate)
        let samples = try (0..<5).map { try builder.sample(at: $0) }
        let batch = try Batch(collating: samples, paddingID: 0)
        let longest = samples.map(\.text.count).max()!
        #expect(batch.text.shape == [5, longest])
        #expect(batch.framesShape == [5, 4, 768] && batch.frames.count == 5 * 4 * 768)
        #expect(batch.frameMask.count == 20 && batch.labels.count == 5 && batch.isFullyLabeled)
        #expect(Array(batch.frames[(3 * 4 * 768)..<(4 * 4 * 768)]) == samples[3].frames)
        let fixed = try Batch(collating: samples, textPadding: .fixed(64), paddingID: 0)
        #expect(fixed.text.shape == [5, 64])
        #expect(fixed.text.attentionMask.reduce(0, +) == Int32(samples.map(\.text.count).reduce(0, +)))
    }
}
