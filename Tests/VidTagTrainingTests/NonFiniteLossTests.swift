import Foundation
import Testing
import Torch
@testable import VidTagTraining

extension TrainingRunTests {
    /// A loss that stops being finite stops the run with `TrainingError.nonFiniteLoss`; the last good
    /// checkpoint stays as it was and a resume starts from it.
    @Suite struct NonFiniteLoss {
        static func expectNonFiniteLoss(_ session: TrainingSession, atStep expected: Int? = nil) {
            do {
                _ = try session.train()
                Issue.record("the run finished although its loss was not finite")
            } catch TrainingError.nonFiniteLoss(let step, let loss) {
                #expect(!loss.isFinite)
                if let expected { #expect(step == expected) }
                #expect("\(TrainingError.nonFiniteLoss(step: step, loss: loss))".contains("learning rate"))
            } catch {
                Issue.record("expected TrainingError.nonFiniteLoss, got \(error)")
            }
        }

        @Test("weights turned NaN after step 5: stops at step 6, the step-4 checkpoint intact and finite")
        func poisonedWeights() throws {
            let run = TrainingFixture.temporaryFolder("nan")
            defer { try? FileManager.default.removeItem(at: run) }
            var session = try TrainingFixture.session(try TrainingFixture.tinyConfig(), run: run)
            session.prepare = { trainer in
                trainer.afterStep.append { trainer in
                    guard trainer.state.step == 5 else { return }
                    withNoGrad { trainer.store.entry("classifier.weight")!.tensor.fill_(.nan) }
                }
            }
            Self.expectNonFiniteLoss(session, atStep: 6)

            let checkpointURL = RunFolder(run).checkpointURL
            let checkpoint = try Checkpoint.read(from: try #require(Checkpoint.latest(at: checkpointURL)))
            #expect(checkpoint.state.step == 4)
            for (key, tensor) in checkpoint.model {
                #expect(tensor.isFinite().all().item() == 1, "\(key) is not finite in the checkpoint")
            }
            #expect(!FileManager.default.fileExists(atPath: checkpointURL.path + ".partial"))
            let logged = try TrainingFixture.trainLosses(run)
            #expect(logged.keys.sorted() == [1, 2, 3, 4, 5], "no loss is logged for the failed step: \(logged)")

            // Resuming restarts from step 4 (the hook is gone) and finishes.
            let resumed = try TrainingFixture.session(try TrainingFixture.tinyConfig(), run: run).train()
            #expect(resumed.state.step == 8)
        }

        @Test("an absurd learning rate (1e30, no clipping) ends in nonFiniteLoss, not in a NaN model")
        func absurdLearningRate() throws {
            let run = TrainingFixture.temporaryFolder("nan-lr")
            defer { try? FileManager.default.removeItem(at: run) }
            let config = try TrainingFixture.tinyConfig([
                "train.text_learning_rate=1e30", "train.visual_learning_rate=1e30", "train.head_learning_rate=1e30",
                "train.clip_norm=0", "train.warmup_ratio=0", "train.schedule=constant", "train.weight_decay=0",
                "train.max_steps=8",
            ])
            Self.expectNonFiniteLoss(try TrainingFixture.session(config, run: run))
        }
    }
}
