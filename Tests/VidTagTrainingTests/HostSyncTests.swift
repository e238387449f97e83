import Foundation
import Testing
import Torch
import VidTagData
@testable import VidTagTraining

extension TrainingRunTests {
    /// The training loop reads nothing back from the device except when it logs: a step that does not log
    /// makes no host read (on a GPU, no synchronisation), counted through the shim's per-thread counter.
    @Suite struct HostSync {
        /// Runs 8 steps with losses logged every 4 (and at step 1), evaluation and checkpoints at 4 and 8;
        /// returns the host reads made between the end of step k - 1 and the end of step k, for k = 2 … 8.
        static func readsPerStep(_ extra: [String]) throws -> [Int: Int] {
            let run = TrainingFixture.temporaryFolder("sync")
            defer { try? FileManager.default.removeItem(at: run) }
            let counts = Counts()
            var session = try TrainingFixture.session(try TrainingFixture.tinyConfig(["train.log_every=4"] + extra), run: run)
            session.prepare = { trainer in
                trainer.afterStep.append { trainer in counts.atEnd[trainer.state.step] = Runtime.hostReadCount }
            }
            let result = try session.train()
            #expect(result.state.step == 8)
            var reads: [Int: Int] = [:]
            for step in 2...8 { reads[step] = counts.atEnd[step]! - counts.atEnd[step - 1]! }
            // Every step's loss reached the log, read in batches.
            #expect(try TrainingFixture.trainLosses(run).keys.sorted() == Array(1...8))
            return reads
        }

        final class Counts: @unchecked Sendable {
            var atEnd: [Int: Int] = [:]
        }

        @Test("steps that do not log read nothing on the host; the log after step 1 reads once",
              arguments: [
                  ["model.kind=single_stream"],
                  ["model.kind=baseline"],
                  ["model.kind=single_stream", "tricks.ema_decay=0.9", "tricks.fgm_epsilon=0.5"],
                  ["model.kind=single_stream", "tricks.pgd_steps=2", "tricks.rdrop_alpha=1"],
              ])
        func noHostReadsBetweenLogs(overrides: [String]) throws {
            let reads = try Self.readsPerStep(overrides)
            // Flushes at the ends of steps 1, 4 and 8 (log_every, first step, evaluation, checkpoint).
            for step in [3, 4, 6, 7, 8] {
                #expect(reads[step] == 0, "step \(step) read the host \(reads[step]!) times (\(overrides))")
            }
            #expect(reads[2] == 1, "the loss log after step 1 is one read: \(reads[2]!)")
            #expect(reads[5]! > 0, "evaluation and the checkpoint after step 4 read the host")
        }

        @Test func theCounterCountsEachRead() throws {
            try Torch.catching {
                let tensor = Tensor([1, 2, 3] as [Float])
                let before = Runtime.hostReadCount
                _ = (tensor * 2).sum()
                #expect(Runtime.hostReadCount == before, "ops on tensors read nothing")
                _ = tensor.sum().item()
                _ = tensor.toArray(Float.self)
                _ = tensor.maskedSelect(tensor.gt(1))
                #expect(Runtime.hostReadCount == before + 3)
            }
        }
    }
}
