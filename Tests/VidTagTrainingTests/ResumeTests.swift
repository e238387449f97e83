import Foundation
import Testing
import Torch
import VidTagData
@testable import VidTagTraining

extension TrainingRunTests {
    /// A run stopped after a checkpoint and resumed by a new session continues exactly as if it had never
    /// stopped: same losses step by step, same weights, optimizer state and EMA at the end.
    @Suite struct Resume {
        static func train(_ config: RunConfig, run: URL, stopAfterStep: Int? = nil) throws -> TrainerState {
            var session = try TrainingFixture.session(config, run: run)
            session.stopAfterStep = stopAfterStep
            return try session.train().state
        }

        @Test("8 steps uninterrupted = 3 steps, stop, resume to 8 (dropout, EMA, evaluation every 4 steps)",
              arguments: ["single_stream", "baseline"])
        func exactResume(kind: String) throws {
            let config = try TrainingFixture.tinyConfig(["model.kind=\(kind)", "tricks.ema_decay=0.9"])
            let straight = TrainingFixture.temporaryFolder("resume-a")
            let interrupted = TrainingFixture.temporaryFolder("resume-b")
            defer {
                try? FileManager.default.removeItem(at: straight)
                try? FileManager.default.removeItem(at: interrupted)
            }
            let finished = try Self.train(config, run: straight)
            #expect(finished.step == 8)

            let stopped = try Self.train(config, run: interrupted, stopAfterStep: 3)
            #expect(stopped.step == 3)
            let checkpoint = try #require(Checkpoint.latest(at: RunFolder(interrupted).checkpointURL))
            #expect(try Checkpoint.read(from: checkpoint).state.step == 3)
            let resumed = try Self.train(config, run: interrupted)
            #expect(resumed == finished)

            let expected = try TrainingFixture.trainLosses(straight)
            let actual = try TrainingFixture.trainLosses(interrupted)
            #expect(expected.keys.sorted() == Array(1...8))
            #expect(actual.keys.sorted() == Array(1...8), "metrics.jsonl after the resume: \(actual)")
            for step in 1...8 {
                let (a, b) = (try #require(expected[step]), actual[step] ?? .nan)
                #expect(abs(a - b) <= 1e-6, "step \(step): loss \(b) after resume, \(a) uninterrupted")
            }
            #expect(Set(expected.values).count > 4, "losses should change from step to step: \(expected)")

            let a = try Checkpoint.read(from: RunFolder(straight).checkpointURL)
            let b = try Checkpoint.read(from: RunFolder(interrupted).checkpointURL)
            #expect(TrainingFixture.maxAbsDifference(a.model, b.model) == 0)
            #expect(TrainingFixture.maxAbsDifference(a.optimizer, b.optimizer) == 0)
            #expect(TrainingFixture.maxAbsDifference(a.extras, b.extras) == 0)
            #expect(!a.extras.isEmpty, "the EMA's averages belong in the checkpoint")
            let weightsA = try SafeTensors.load(RunFolder(straight).model.weightsURL)
            let weightsB = try SafeTensors.load(RunFolder(interrupted).model.weightsURL)
            #expect(TrainingFixture.maxAbsDifference(weightsA, weightsB) == 0)
        }
    }
}
