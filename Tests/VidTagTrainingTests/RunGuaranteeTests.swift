import Foundation
import Testing
import Torch
import VidTagData
import VidTagModels
@testable import VidTagTraining

/// What a run promises beyond its score: the right held-out fold, nothing written for bad inputs, a clean
/// stop on SIGTERM that resumes exactly, checkpoints kept as asked, early stopping.
extension TrainingRunTests {
    @Suite struct RunGuarantees {
        static func arguments(_ run: URL, _ extra: [String]) throws -> [String] {
            var arguments = ["train", "--data", try TrainingFixture.demoRoot.path, "--out", run.path]
            for override in TrainingFixture.tinyOverrides + ["model.vocabulary=\(try TrainingFixture.vocabularyFolder.path)"] + extra {
                arguments += ["--set", override]
            }
            return arguments
        }

        @Test("the held-out fold follows data.folds_seed, not the run's seed: runs with other seeds hold out the same videos")
        func foldsFollowTheirOwnSeed() throws {
            let tokenizer = try BertTokenizer(directory: try TrainingFixture.vocabularyFolder.path)
            let labels = try LabelSpace(for: try TrainingFixture.demo)
            let index = try VideoIndex(dataRoot: try TrainingFixture.demo, split: "labeled", tokenizer: tokenizer, labelSpace: labels)
            let labelled = (0..<index.count).filter { index.label(at: $0) != nil }
            func heldOut(_ overrides: [String]) throws -> Set<String> {
                let session = try TrainingFixture.session(try TrainingFixture.tinyConfig(overrides),
                                                          run: TrainingFixture.temporaryFolder("folds-seed"))
                let folds = try #require(try session.heldOutFolds(index: index, labelled: labelled, labels: labels))
                return Set(folds.validationIds(fold: 0))
            }
            let first = try heldOut(["seed=1"])
            #expect(!first.isEmpty)
            #expect(try heldOut(["seed=2"]) == first)
            #expect(try heldOut(["seed=1", "data.folds_seed=5"]) != first)
        }

        @Test("a K-fold member records its fold, and evaluation scores that fold, not fold 0")
        func evaluationUsesTheRecordedFold() throws {
            let run = RunFolder(TrainingFixture.temporaryFolder("kfold-eval"))
            defer { try? FileManager.default.removeItem(at: run.url) }
            let config = try TrainingFixture.tinyConfig(["train.max_steps=2", "train.eval_every=2"])
            _ = try #require(try KFoldTraining(config: config, data: TrainingFixture.demo, run: run, folds: 2).train())

            let member = ModelFolder(run.url.appendingPathComponent("fold-1"))
            let settings = try JSONDecoder().decode(ModelDataSettings.self, from: Data(contentsOf: member.dataSettingsURL))
            #expect(settings.heldOutFold == 1)
            let heldOut = try ModelSelection(models: [member.url.path]).predictHeldOut(data: try TrainingFixture.demo, device: .cpu)
            let file = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: run.splitURL)) as? [String: Any])
            let folds = try #require(file["folds"] as? [[String]])
            #expect(Set(heldOut.predictions.ids) == Set(folds[1]))
            #expect(Set(heldOut.predictions.ids).isDisjoint(with: folds[0]))

            // The K-fold folder as a whole: each fold model on its own fold, every labelled video once.
            let outOfFold = try ModelSelection(models: [run.url.path]).predictHeldOut(data: try TrainingFixture.demo, device: .cpu)
            #expect(outOfFold.predictions.ids.count == folds[0].count + folds[1].count)
            #expect(Set(outOfFold.predictions.ids).count == outOfFold.predictions.ids.count)
        }

        @Test("train with a wrong --data writes nothing, so the corrected retry is not refused",
              .enabled(if: TrainingFixture.vidtagBinary != nil, Comment(rawValue: TrainingFixture.binaryMissing)))
        func wrongDataWritesNothing() throws {
            let run = TrainingFixture.temporaryFolder("wrong-data").appendingPathComponent("run")
            defer { try? FileManager.default.removeItem(at: run.deletingLastPathComponent()) }
            var wrong = try Self.arguments(run, [])
            wrong[2] = "/nonexistent/vidtag-data"
            let (status, output) = try TrainingFixture.runVidtag(wrong)
            #expect(status != 0)
            #expect(output.contains("/nonexistent/vidtag-data"), "\(output)")
            #expect(!FileManager.default.fileExists(atPath: run.path), "nothing may be written for a wrong data root")

            // A data root that exists but lacks the split: also refused before writing.
            let empty = TrainingFixture.temporaryFolder("empty-root")
            defer { try? FileManager.default.removeItem(at: empty) }
            wrong[2] = empty.path
            #expect(try TrainingFixture.runVidtag(wrong).status != 0)
            #expect(!FileManager.default.fileExists(atPath: run.path))

            let (retryStatus, retryOutput) = try TrainingFixture.runVidtag(try Self.arguments(run, []) + ["--stop-after-step", "1"])
            #expect(retryStatus == 0, "\(retryOutput)")
        }

        @Test("SIGTERM: the step finishes, a checkpoint is written, the exit says how to resume; resumed = uninterrupted",
              .enabled(if: TrainingFixture.vidtagBinary != nil, Comment(rawValue: TrainingFixture.binaryMissing)),
              .timeLimit(.minutes(3)))
        func sigtermThenResume() throws {
            let folder = TrainingFixture.temporaryFolder("sigterm")
            defer { try? FileManager.default.removeItem(at: folder) }
            let settings = ["train.max_steps=40", "train.eval_every=20", "train.checkpoint_every=1", "tricks.ema_decay=0.9"]
            let interrupted = folder.appendingPathComponent("interrupted")
            let whole = folder.appendingPathComponent("whole")

            let checkpoint = RunFolder(interrupted).checkpointURL
            let (status, reason, output, signalled) = try TrainingFixture.runVidtagUntilSigterm(
                try Self.arguments(interrupted, settings), checkpoint: checkpoint, step: 3)
            try #require(signalled, "the run ended before it could be interrupted")
            #expect(reason == .exit && status == 128 + SIGTERM, "\(output)")
            #expect(output.contains("--resume"), "the exit message says how to resume: \(output)")
            let stoppedAt = try Checkpoint.read(from: checkpoint).state.step
            #expect(stoppedAt >= 3 && stoppedAt < 40)

            let (resumeStatus, resumeOutput) = try TrainingFixture.runVidtag(try Self.arguments(interrupted, settings) + ["--resume"])
            #expect(resumeStatus == 0, "\(resumeOutput)")
            let (wholeStatus, wholeOutput) = try TrainingFixture.runVidtag(try Self.arguments(whole, settings))
            #expect(wholeStatus == 0, "\(wholeOutput)")
            let resumed = try Checkpoint.read(from: RunFolder(interrupted).checkpointURL)
            let uninterrupted = try Checkpoint.read(from: RunFolder(whole).checkpointURL)
            #expect(resumed.state.step == 40 && uninterrupted.state.step == 40)
            #expect(TrainingFixture.maxAbsDifference(resumed.model, uninterrupted.model) <= 1e-6)
            #expect(TrainingFixture.maxAbsDifference(resumed.extras, uninterrupted.extras) <= 1e-6, "EMA averages")
        }

        @Test("train.keep_checkpoints keeps the newest N; train.checkpoint_every writes without evaluating")
        func keepsCheckpoints() throws {
            let run = RunFolder(TrainingFixture.temporaryFolder("keep"))
            defer { try? FileManager.default.removeItem(at: run.url) }
            let config = try TrainingFixture.tinyConfig([
                "train.max_steps=6", "train.eval_every=3", "train.checkpoint_every=1", "train.keep_checkpoints=3",
            ])
            var steps: [Int] = []
            var session = try TrainingFixture.session(config, run: run.url)
            session.onEvent = { if case .checkpointSaved(let step) = $0 { steps.append(step) } }
            _ = try session.train()
            #expect(Set(steps) == Set(1...6))
            let archived = try FileManager.default.contentsOfDirectory(atPath: run.archivedCheckpointsURL.path).sorted()
            #expect(archived == ["step-4", "step-5"])
            for name in archived {
                let state = try Checkpoint.read(from: run.archivedCheckpointsURL.appendingPathComponent(name)).state
                #expect("step-\(state.step)" == name)
            }
            #expect(try Checkpoint.read(from: run.checkpointURL).state.step == 6)
        }

        @Test("early stopping: patience 2 ends the run two evaluations after the best, with its predictions")
        func earlyStopping() throws {
            let run = RunFolder(TrainingFixture.temporaryFolder("early"))
            defer { try? FileManager.default.removeItem(at: run.url) }
            // Learning rates so small that the held-out score cannot improve after the first evaluation.
            let config = try TrainingFixture.tinyConfig([
                "train.max_steps=20", "train.eval_every=1", "train.early_stopping_patience=2",
                "train.text_learning_rate=1e-12", "train.visual_learning_rate=1e-12", "train.head_learning_rate=1e-12",
            ])
            var stopped: StopReason?
            var session = try TrainingFixture.session(config, run: run.url)
            session.onEvent = { if case .stoppedEarly(_, let reason) = $0 { stopped = reason } }
            let outcome = try session.train()
            #expect(outcome.state.step == 3)
            #expect(outcome.state.bestStep == 1)
            #expect(stopped == .noImprovement(evaluations: 2))
            #expect(outcome.predictions != nil, "an early-stopped run still writes its out-of-fold predictions")
        }

        @Test("tricks.head_samples on the baseline is refused, naming the setting")
        func headSamplesOnBaseline() throws {
            #expect(throws: ConfigError.self) { try RunConfig.resolve(overrides: ["model.kind=baseline", "tricks.head_samples=4"]) }
            do {
                _ = try RunConfig.resolve(overrides: ["model.kind=baseline", "tricks.head_samples=4"])
            } catch {
                #expect("\(error)".contains("tricks.head_samples"))
            }
            _ = try RunConfig.resolve(overrides: ["model.kind=single_stream", "tricks.head_samples=4"])
        }
    }
}
