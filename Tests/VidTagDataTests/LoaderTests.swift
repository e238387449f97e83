import Foundation
import Testing

@testable import VidTagData

private func loader(
    mode: SampleMode = .train(seed: 1), batchSize: Int = 16, workers: Int = 2, capacity: Int = 3, shuffle: Bool = true,
    root: URL? = nil, badRecords: BadRecordPolicy = .skip
) throws -> DataLoader {
    let builder = try SampleBuilder(
        dataRoot: DataRoot(url: try root ?? DemoFixture.root), split: "labeled", tokenizer: DemoFixture.tokenizer,
        budgets: TextBudgets(title: 16, asr: 16, ocr: 8), maxFrames: 4, frameSource: .features(dimension: 768),
        labelSpace: .wechat2022, mode: mode, badRecords: badRecords)
    return try DataLoader(builder: builder, settings: LoaderSettings(
        batchSize: batchSize, shuffle: shuffle, seed: 11, workers: workers, queueCapacity: capacity))
}

private func drain(_ stream: BatchStream) throws -> [Batch] {
    var batches: [Batch] = []
    while let batch = try stream.next() { batches.append(batch) }
    return batches
}

private func same(_ a: [Batch], _ b: [Batch]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { x, y in
        x.ids == y.ids && x.frames == y.frames && x.frameMask == y.frameMask && x.text == y.text && x.labels == y.labels
            && x.index == y.index
    }
}

@Suite("Loader")
struct LoaderTests {
    @Test("order is a permutation fixed by (seed, epoch); batches arrive in order")
    func order() throws {
        let data = try loader()
        let first = try drain(data.batches(epoch: 0))
        let again = try drain(data.batches(epoch: 0))
        let next = try drain(data.batches(epoch: 1))
        #expect(first.count == data.batchesPerEpoch && first.count == 13)
        #expect(first.map(\.index) == Array(0..<13))
        #expect(same(first, again))
        #expect(first.flatMap(\.ids) != next.flatMap(\.ids))
        #expect(Set(first.flatMap(\.ids)).count == 200 && Set(next.flatMap(\.ids)).count == 200)
        #expect(first.flatMap(\.positions) == data.order(epoch: 0))
        let synchronous = try drain(try loader(workers: 0).batches(epoch: 0))
        #expect(same(first, synchronous), "background workers give the same batches as building in the caller")
    }

    @Test("resuming from a position gives exactly the rest of the uninterrupted stream")
    func resume() throws {
        let data = try loader()
        let whole = try drain(data.batches(epoch: 2))
        let interrupted = data.batches(epoch: 2)
        for _ in 0..<5 { _ = try interrupted.next() }
        let position = interrupted.position
        #expect(position == LoaderPosition(epoch: 2, batch: 5))
        #expect(interrupted.batchesDelivered == 5 && interrupted.samplesDelivered == 80)
        interrupted.close()
        let resumed = try drain(try loader().batches(from: position))
        #expect(same(Array(whole[5...]), resumed))
    }

    @Test("the queue is bounded: workers wait while capacity batches are ahead")
    func boundedQueue() throws {
        let stream = try loader(batchSize: 4, capacity: 2).batches(epoch: 0)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(stream.batchesStarted == 2 && stream.batchesReady <= 2)
        _ = try stream.next()
        Thread.sleep(forTimeInterval: 0.5)
        #expect(stream.batchesStarted == 3, "one batch consumed frees one slot")
        stream.close()
        #expect(stream.liveWorkers == 0)
    }

    @Test("stopping early ends every worker without hanging")
    func earlyStop() throws {
        let data = try loader(batchSize: 2, capacity: 4)
        let stream = data.batches(epoch: 0)
        _ = try stream.next()
        stream.close()
        #expect(stream.liveWorkers == 0)
        #expect(try stream.next() == nil)
        for _ in 0..<5 {  // dropped without close: deinit stops the workers
            let dropped = data.batches(epoch: 1)
            _ = try dropped.next()
        }
    }

    @Test("a worker's error reaches the consumer at its batch")
    func workerError() throws {
        let root = DemoFixture.temporaryFolder("demo-broken")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("annotations"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            at: root.appendingPathComponent("zip_feats"), withDestinationURL: DemoFixture.root.appendingPathComponent("zip_feats"))
        var records = try DemoFixture.records("labeled")
        records.insert(VideoAnnotation(id: "12345678901234567890", categoryId: "0402", title: "无"), at: 100)
        try AnnotationWriter.write(records, to: root.appendingPathComponent("annotations/labeled.json"))

        let stopping = try loader(shuffle: false, root: root, badRecords: .stop).batches(epoch: 0)
        var delivered = 0
        #expect {
            while try stopping.next() != nil { delivered += 1 }
        } throws: { error in
            "\(error)".contains("12345678901234567890") && "\(error)".contains("no such member")
        }
        #expect(delivered == 100 / 16)
        #expect(stopping.liveWorkers == 0)
        #expect(throws: SampleError.self) { try stopping.next() }

        let skipping = try loader(shuffle: false, root: root).batches(epoch: 0)
        let batches = try drain(skipping)
        #expect(batches.reduce(0) { $0 + $1.count } == 201)
        #expect(skipping.report.featureProblems == 1 && skipping.report.samples == 201)
    }

    @Test("a concatenation of splits serves each split's samples under its own positions, end to end")
    func concatenatedSplits() throws {
        func builder(_ split: String) throws -> SampleBuilder {
            try SampleBuilder(
                dataRoot: DataRoot(url: try DemoFixture.root), split: split, tokenizer: DemoFixture.tokenizer,
                budgets: TextBudgets(title: 16, asr: 16, ocr: 8), maxFrames: 4, frameSource: .features(dimension: 768),
                labelSpace: .wechat2022, mode: .evaluate)
        }
        let labeled = try builder("labeled")
        let unlabeled = try builder("unlabeled")
        let both = try ConcatenatedSamples([labeled, unlabeled])
        #expect(both.count == labeled.count + unlabeled.count && both.starts == [0, labeled.count])
        #expect(both.locate(0) == (0, 0) && both.locate(labeled.count - 1) == (0, labeled.count - 1))
        #expect(both.locate(labeled.count) == (1, 0) && both.locate(both.count - 1) == (1, unlabeled.count - 1))
        let crossing = try both.sample(at: labeled.count + 3, epoch: 0)
        let direct = try unlabeled.sample(at: 3, epoch: 0)
        #expect(crossing.id == direct.id && crossing.frames == direct.frames && crossing.text == direct.text)
        #expect(crossing.position == labeled.count + 3 && crossing.label == nil)

        let data = try DataLoader(source: both, settings: LoaderSettings(batchSize: 32, seed: 5, workers: 2))
        let ids = try drain(data.batches(epoch: 0)).flatMap(\.ids)
        #expect(ids.count == both.count && Set(ids) == Set(labeled.index.ids + unlabeled.index.ids))
        #expect(throws: SampleError.self) { try ConcatenatedSamples([]) }
    }

    @Test("an epoch's report counts empty clips and corrupt frames")
    func report() throws {
        let builder = try SampleBuilder(
            dataRoot: DataRoot(url: DemoFixture.root), split: "test_a", tokenizer: DemoFixture.tokenizer, maxFrames: 8,
            frameSource: .pixels(FramePreprocessing(resizeShorterSide: 32, cropHeight: 32, cropWidth: 32, normalization: .clip)),
            labelSpace: .wechat2022, mode: .evaluate)
        let stream = try DataLoader(builder: builder, settings: LoaderSettings(batchSize: 8, shuffle: false)).batches(epoch: 0)
        let batches = try drain(stream)
        let split = try DemoFixture.summary.splits[2]
        #expect(batches.allSatisfy { !$0.isFullyLabeled || $0.labels.allSatisfy { $0 == -1 } })
        #expect(batches.first?.framesShape == [8, 8, 3, 32, 32])
        #expect(stream.report.samples == split.videos)
        #expect(stream.report.frames.videosWithoutFrames == split.emptyClipIds.count)
        #expect(stream.report.frames.unreadableFrames == split.corruptClipIds.count)
    }
}
