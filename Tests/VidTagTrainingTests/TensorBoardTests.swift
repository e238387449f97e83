import Foundation
import Testing
@testable import VidTagTraining

@Suite("TensorBoard event files")
struct TensorBoardTests {
    static let fixture = TrainingFixture.repository.appendingPathComponent("Tests/Fixtures/tensorboard/scalars.tfevents")

    @Test("CRC-32C of the standard check string")
    func crc32c() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test("events are byte for byte those of TensorBoard's own writer (scripts/fixtures/make_tensorboard_fixtures.py)")
    func matchesTensorBoardsWriter() throws {
        let expected = try [UInt8](Data(contentsOf: Self.fixture))
        var written = TFRecord.frame(TensorBoardEvent.fileVersion(wallTime: 1_700_000_000.0))
        for (wallTime, step, tag, value) in [(1_700_000_000.5, 1, "train/loss", 2.25), (1_700_000_001.25, 2, "train/lr", 0.001),
                                             (1_700_000_002.0, 4, "eval/score", 0.78125)] {
            written += TFRecord.frame(TensorBoardEvent.scalar(tag: tag, value: Float(value), step: Int64(step), wallTime: wallTime))
        }
        #expect(written == expected)
        #expect(try TFRecord.records(expected).count == 4)
    }

    @Test("a corrupted byte fails the record's CRC, naming its offset")
    func corruptionIsDetected() throws {
        var bytes = try [UInt8](Data(contentsOf: Self.fixture))
        bytes[60] ^= 0x01
        #expect(throws: TensorBoardError.self) { try TFRecord.records(bytes) }
    }
}

extension TrainingRunTests {
    @Suite struct TensorBoardRun {
        @Test("train.tensorboard writes the run's train and eval scalars")
        func trainingWritesEvents() throws {
            let run = RunFolder(TrainingFixture.temporaryFolder("tensorboard"))
            defer { try? FileManager.default.removeItem(at: run.url) }
            let config = try TrainingFixture.tinyConfig(["train.max_steps=4", "train.eval_every=2", "train.tensorboard=true"])
            _ = try TrainingFixture.session(config, run: run.url).train()
            let files = try FileManager.default.contentsOfDirectory(atPath: run.tensorBoardURL.path)
            let file = try #require(files.first { $0.hasPrefix("events.out.tfevents.") })
            let records = try TFRecord.records([UInt8](Data(contentsOf: run.tensorBoardURL.appendingPathComponent(file))))
            // The version event, 3 train scalars per step, 5 eval scalars per evaluation (steps 2 and 4).
            #expect(records.count == 1 + 4 * 3 + 2 * 5)
            let text = records.map { String(decoding: $0, as: UTF8.self) }.joined()
            #expect(text.contains("train/loss") && text.contains("eval/score"))
        }
    }
}
