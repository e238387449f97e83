import Foundation
import Testing
import Torch
import VidTagData
import VidTagModels
@testable import VidTagTraining

extension TrainingRunTests {
    /// `vidtag pretrain`'s runs: exact resume, and fine-tuning from the folder it writes.
    @Suite struct Pretraining {
        static let pretrainOverrides = ["pretrain.splits=[\"unlabeled\",\"test_a\"]", "train.checkpoint_every=4"]

        static func pretrain(_ config: RunConfig, run: URL, stopAfterStep: Int? = nil) throws -> PretrainingSession.Outcome {
            var session = PretrainingSession(config: config, data: try TrainingFixture.demo, run: RunFolder(run))
            session.stopAfterStep = stopAfterStep
            return try session.pretrain()
        }

        /// The tiny config of a pretraining run of `kind` (ITC on for the dual-stream model).
        static func config(_ kind: String) throws -> RunConfig {
            let dual = kind == "dual_stream"
                ? ["pretrain.itc_weight=0.5", "model.video_layers=1", "model.fusion_layers=1"] : []
            return try TrainingFixture.tinyConfig(pretrainOverrides + ["model.kind=\(kind)"] + dual)
        }

        @Test("8 pretraining steps uninterrupted = 3 steps, stop, resume to 8: same losses of every task, same weights",
              arguments: ["single_stream", "dual_stream"])
        func exactResume(kind: String) throws {
            let config = try Self.config(kind)
            let straight = TrainingFixture.temporaryFolder("pretrain-a")
            let interrupted = TrainingFixture.temporaryFolder("pretrain-b")
            defer {
                try? FileManager.default.removeItem(at: straight)
                try? FileManager.default.removeItem(at: interrupted)
            }
            let finished = try Self.pretrain(config, run: straight)
            #expect(finished.state.step == 8 && !finished.interrupted)
            let stopped = try Self.pretrain(config, run: interrupted, stopAfterStep: 3)
            #expect(stopped.interrupted && stopped.state.step == 3)
            #expect(!FileManager.default.fileExists(atPath: RunFolder(interrupted).model.weightsURL.path))
            let resumed = try Self.pretrain(config, run: interrupted)
            #expect(resumed.state == finished.state)

            let expected = try MetricsLog.read(RunFolder(straight).metricsURL).filter { $0.kind == "train" }
            let actual = try MetricsLog.read(RunFolder(interrupted).metricsURL).filter { $0.kind == "train" }
            #expect(expected.map(\.step) == Array(1...8))
            #expect(actual.map(\.step) == Array(1...8))
            let tasks = kind == "dual_stream" ? ["mlm_loss", "mfm_loss", "itm_loss", "itc_loss"] : ["mlm_loss", "mfm_loss", "itm_loss"]
            for (a, b) in zip(expected, actual) {
                for name in ["loss"] + tasks {
                    let (x, y) = (a.values[name] ?? .nan, b.values[name] ?? .nan)
                    #expect(abs(x - y) <= 1e-6, "step \(a.step) \(name): \(y) after resume, \(x) uninterrupted")
                }
            }
            #expect(Set(expected.compactMap { $0.values["mlm_loss"] }).count > 4, "losses should change from step to step")

            let weightsA = try SafeTensors.load(RunFolder(straight).model.weightsURL)
            let weightsB = try SafeTensors.load(RunFolder(interrupted).model.weightsURL)
            #expect(TrainingFixture.maxAbsDifference(weightsA, weightsB) == 0)
            #expect(!weightsA.keys.contains { $0.hasPrefix("classifier.") }, "the untrained classifier is not kept")
            for prefix in ["cls.predictions.", "mfm_head.", "itm_head."] + (kind == "dual_stream" ? ["itc_head."] : []) {
                #expect(weightsA.keys.contains { $0.hasPrefix(prefix) }, "no \(prefix)* in the pretrained folder")
            }
        }

        @Test("train with model.init takes every shared key, leaves exactly the pretraining heads, starts the classifier fresh",
              arguments: ["single_stream", "dual_stream"])
        func fineTuneFromPretrained(kind: String) throws {
            let pretrained = TrainingFixture.temporaryFolder("pretrained")
            let tuned = TrainingFixture.temporaryFolder("tuned")
            defer {
                try? FileManager.default.removeItem(at: pretrained)
                try? FileManager.default.removeItem(at: tuned)
            }
            _ = try Self.pretrain(try TrainingFixture.tinyConfig(Self.pretrainOverrides + ["model.kind=\(kind)", "train.max_steps=2"]
                + (kind == "dual_stream" ? ["pretrain.itc_weight=0.5"] : [])), run: pretrained)
            let saved = try SafeTensors.load(RunFolder(pretrained).model.weightsURL)

            // Without model.vocabulary: the pretrained folder's vocab.txt must be used.
            let overrides = TrainingFixture.tinyOverrides + ["model.kind=\(kind)", "model.init=\(pretrained.path)", "train.max_steps=2"]
            let config = try RunConfig.resolve(overrides: overrides)
            var session = try TrainingFixture.session(config, run: tuned)
            var reports: [CheckpointLoadReport] = []
            session.onEvent = { if case .pretrainedLoaded("model", _, let report) = $0 { reports.append(report) } }
            var loaded: [String: Tensor] = [:]
            session.prepare = { trainer in loaded = trainer.store.stateDict().mapValues { $0.detach().clone() } }
            _ = try session.train()

            let report = try #require(reports.first, "no pretrainedLoaded(model) event")
            let heads = saved.keys.filter(PretrainingHeads.isHeadKey).sorted()
            #expect(!heads.isEmpty)
            #expect(report.ignored.keys.sorted() == heads, "left: \(report.ignored.keys.sorted())")
            #expect(report.fresh == loaded.keys.filter { $0.hasPrefix("classifier.") || $0.hasPrefix("video_classifier.") }.sorted())
            #expect(report.fresh == ["classifier.bias", "classifier.weight"])
            #expect(report.taken == saved.keys.filter { !PretrainingHeads.isHeadKey($0) }.sorted())
            #expect(Set(report.taken + report.fresh) == Set(loaded.keys), "every model key is taken or fresh")
            for key in report.taken {
                #expect(TrainingFixture.maxAbsDifference([key: saved[key]!], [key: loaded[key]!]) == 0, "\(key) not loaded")
            }
            let vocabulary = try String(contentsOf: RunFolder(tuned).model.vocabularyURL, encoding: .utf8)
            #expect(vocabulary == (try String(contentsOf: RunFolder(pretrained).model.vocabularyURL, encoding: .utf8)))
        }

        @Test("a pretrained folder of another kind or shape is refused, naming the key and both shapes, before anything is written")
        func refusesAnotherKindOrShape() throws {
            let pretrained = TrainingFixture.temporaryFolder("pretrained-shape")
            let tuned = TrainingFixture.temporaryFolder("tuned-shape")
            try FileManager.default.removeItem(at: tuned)
            defer {
                try? FileManager.default.removeItem(at: pretrained)
                try? FileManager.default.removeItem(at: tuned)
            }
            _ = try Self.pretrain(try TrainingFixture.tinyConfig(Self.pretrainOverrides + ["train.max_steps=1"]), run: pretrained)

            let wider = try RunConfig.resolve(overrides: TrainingFixture.tinyOverrides
                + ["model.init=\(pretrained.path)", "model.hidden=64"])
            #expect { try TrainingFixture.session(wider, run: tuned).train() } throws: { error in
                "\(error)".contains("key bert.embeddings.LayerNorm.weight: model expects shape [64], checkpoint has [32]")
            }
            let otherKind = try RunConfig.resolve(overrides: TrainingFixture.tinyOverrides
                + ["model.init=\(pretrained.path)", "model.kind=dual_stream"])
            #expect { try TrainingFixture.session(otherKind, run: tuned).train() } throws: { error in
                "\(error)".contains("single_stream") && "\(error)".contains("model.kind")
            }
            #expect(!FileManager.default.fileExists(atPath: tuned.path), "nothing is written when the init is refused")
        }

        @Test("vidtag pretrain --nproc 2: 8 steps uninterrupted = 3 steps, stop, --resume to 8; rank 1 ends with rank 0's weights",
              .enabled(if: DistributedBackend.gloo.isAvailable), arguments: [true, false])
        func dataParallelRunResumesExactly(overlapAllReduce: Bool) throws {
            let straight = TrainingFixture.temporaryFolder("pretrain-ddp-a")
            let interrupted = TrainingFixture.temporaryFolder("pretrain-ddp-b")
            defer { for url in [straight, interrupted] { try? FileManager.default.removeItem(at: url) } }
            let settings = (TrainingFixture.tinyOverrides + Self.pretrainOverrides
                + ["model.vocabulary=\(try TrainingFixture.vocabularyFolder.path)", "train.overlap_all_reduce=\(overlapAllReduce)"])
                .flatMap { ["--set", $0] }
            func pretrain(_ run: URL, _ extra: [String]) throws {
                let (status, output) = try TrainingFixture.runVidtag(
                    ["pretrain", "--data", try TrainingFixture.demoRoot.path, "--out", run.path, "--nproc", "2"] + settings + extra)
                #expect(status == 0, "\(output)")
            }
            try pretrain(straight, ["--force"])
            try pretrain(interrupted, ["--force", "--stop-after-step", "3"])
            #expect(try Checkpoint.read(from: RunFolder(interrupted).checkpointURL).state.step == 3)
            try pretrain(interrupted, ["--resume"])

            let expected = try MetricsLog.read(RunFolder(straight).metricsURL).filter { $0.kind == "train" }
            let actual = try MetricsLog.read(RunFolder(interrupted).metricsURL).filter { $0.kind == "train" }
            #expect(expected.map(\.step) == Array(1...8))
            #expect(actual.map(\.step) == Array(1...8), "metrics.jsonl after the resume")
            for (a, b) in zip(expected, actual) {
                for name in ["loss", "mlm_loss", "mfm_loss", "itm_loss"] {
                    let (x, y) = (a.values[name] ?? .nan, b.values[name] ?? .nan)
                    #expect(abs(x - y) <= 1e-6, "step \(a.step) \(name): \(y) after resume, \(x) uninterrupted")
                }
            }
            let weightsA = try SafeTensors.load(RunFolder(straight).model.weightsURL)
            let weightsB = try SafeTensors.load(RunFolder(interrupted).model.weightsURL)
            #expect(TrainingFixture.maxAbsDifference(weightsA, weightsB) == 0)
            #expect(weightsA.keys.contains("mfm_head.weight") && weightsA.keys.contains("itm_head.weight"))
            // The classifier, which the pretraining loss never reaches, does not hold the all-reduce up; the
            // ranks end with the same weights.
            let rankZero = try Checkpoint.read(from: RunFolder(straight).checkpointURL)
            let rankOne = try Checkpoint.read(from: RunFolder(straight.appendingPathComponent("ranks/rank-1")).checkpointURL)
            #expect(rankOne.state.step == 8)
            #expect(TrainingFixture.maxAbsDifference(rankZero.model, rankOne.model) <= 1e-6)
        }

        @Test("vidtag pretrain refuses a missing split, ITC on single-stream, and a folder holding a run without --resume or --force")
        func commandLineRefusals() throws {
            let run = TrainingFixture.temporaryFolder("pretrain-cli")
            try FileManager.default.removeItem(at: run)
            defer { try? FileManager.default.removeItem(at: run) }
            let data = try TrainingFixture.demoRoot.path
            let tiny = TrainingFixture.tinyOverrides.flatMap { ["--set", $0] }
            let missing = try TrainingFixture.runVidtag(["pretrain", "--data", data, "--out", run.path, "--splits", "unlabeled,nosuch"] + tiny)
            #expect(missing.status != 0)
            #expect(missing.output.contains("annotations/nosuch.json"), "\(missing.output)")
            let itc = try TrainingFixture.runVidtag(["pretrain", "--data", data, "--out", run.path, "--set", "pretrain.itc_weight=1"] + tiny)
            #expect(itc.status != 0)
            #expect(itc.output.contains("pretrain.itc_weight") && itc.output.contains("dual_stream"), "\(itc.output)")
            #expect(!FileManager.default.fileExists(atPath: run.path), "a refused run must write nothing")

            let short = tiny + ["--set", "train.max_steps=2", "--set", "model.vocabulary=\(try TrainingFixture.vocabularyFolder.path)"]
            let first = try TrainingFixture.runVidtag(["pretrain", "--data", data, "--out", run.path] + short)
            #expect(first.status == 0, "\(first.output)")
            let again = try TrainingFixture.runVidtag(["pretrain", "--data", data, "--out", run.path] + short)
            #expect(again.status != 0 && again.output.contains("already holds a run") && again.output.contains("--force"),
                    "\(again.output)")
            #expect(try Checkpoint.read(from: RunFolder(run).checkpointURL).state.step == 2, "the run already there is kept")
        }
    }
}
