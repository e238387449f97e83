import Foundation
import Testing
import Torch
import VidTagData

@testable import VidTagTraining

@Suite("Data-parallel training over Gloo", .serialized, .enabled(if: DistributedBackend.gloo.isAvailable))
struct DataParallelTests {
    /// `vidtag-dist-worker` beside the test bundle (the same build).
    static let worker: URL? = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        return [bundle.deletingLastPathComponent(), bundle.deletingLastPathComponent().deletingLastPathComponent()]
            .map { $0.appendingPathComponent("vidtag-dist-worker") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// Runs the worker's `train` scenario on `worldSize` ranks writing into `out`; returns each rank's
    /// JSON result.
    func train(worldSize: Int, out: URL, overlap: Bool = true) throws -> [[String: Any]] {
        let executable = try #require(Self.worker, "vidtag-dist-worker was not built: run swift build --build-tests")
        func file(_ rank: Int, _ stream: String) -> URL { out.appendingPathComponent("log-\(worldSize)-\(rank).\(stream)") }
        var handles: [FileHandle] = []
        let launch = try LocalLaunch(
            executable: executable,
            arguments: ["train", "--out", out.path, "--timeout", "120", "--overlap", overlap ? "yes" : "no"],
            worldSize: worldSize
        ) { rank in
            for stream in ["out", "err"] { FileManager.default.createFile(atPath: file(rank, stream).path, contents: nil) }
            let pair = (FileHandle(forWritingAtPath: file(rank, "out").path), FileHandle(forWritingAtPath: file(rank, "err").path))
            handles += [pair.0, pair.1].compactMap { $0 }
            return pair
        }
        let statuses = launch.wait(deadline: .seconds(600))
        for handle in handles { try? handle.close() }
        return try (0..<worldSize).map { rank in
            let errors = try String(contentsOf: file(rank, "err"), encoding: .utf8)
            #expect(statuses[rank] == 0, "rank \(rank) of \(worldSize): \(errors)")
            let output = try String(contentsOf: file(rank, "out"), encoding: .utf8)
            let line = try #require(output.split(separator: "\n").last, "rank \(rank) wrote nothing: \(errors)")
            return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    func weights(_ out: URL, _ name: String) throws -> [String: Tensor] {
        try SafeTensors.load(out.appendingPathComponent("\(name).safetensors"))
    }

    static func maxDifference(_ a: [String: Tensor], _ b: [String: Tensor]) -> Double {
        guard a.keys.sorted() == b.keys.sorted() else { return .infinity }
        return a.keys.map { key in (a[key]!.to(.float64) - b[key]!.to(.float64)).abs().max().item() }.max() ?? 0
    }

    @Test("two ranks on halves of a batch end with the weights of one process on the whole batch (all-reduce inside backward, or after it)",
          arguments: [true, false])
    func twoRanksOnHalvesOfABatchEndWithTheWeightsOfOneProcessOnTheWholeBatch(overlap: Bool) throws {
        let out = FileManager.default.temporaryDirectory
            .appendingPathComponent("vidtag-ddp-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: out) }

        let single = try train(worldSize: 1, out: out, overlap: overlap)
        let pair = try train(worldSize: 2, out: out, overlap: overlap)
        let buckets = try #require(pair[0]["buckets"] as? Int)
        #expect(buckets > 1, "the gradients travelled in several buckets")
        for rank in 0..<2 {
            // With the overlap every bucket started before the step's finish: inside backward, or at once for
            // a bucket whose parameters the loss does not reach (rank 0 never reaches `odd`, no rank `unused`,
            // and both sit in the first bucket, which would otherwise hold back every later one).
            let launched = try #require(pair[rank]["launched_before_finish"] as? [Int])
            #expect(launched == Array(repeating: overlap ? buckets : 0, count: 5), "rank \(rank): \(launched)")
        }

        let initial = try weights(out, "rank0-of-1-initial")
        let alone = try weights(out, "rank0-of-1-final")
        let rank0 = try weights(out, "rank0-of-2-final")
        let rank1 = try weights(out, "rank1-of-2-final")
        // Rank 1 initialised with its own seed; the broadcast gave it rank 0's weights.
        #expect(Self.maxDifference(try weights(out, "rank1-of-2-initial"), initial) == 0)
        #expect(Self.maxDifference(alone, initial) > 1e-3, "five steps moved the weights")
        #expect(Self.maxDifference(rank0, rank1) <= 1e-5, "both ranks took the same steps")
        #expect(Self.maxDifference(rank0, alone) <= 1e-5, "the ranks took the steps of one process on the whole batch")
        // Only rank 1 had a gradient for `odd`: rank 0 took it too.
        #expect(Self.maxDifference(["w": rank0["odd.weight"]!], ["w": initial["odd.weight"]!]) > 1e-3)
        // No rank had a gradient for it: the optimizer skipped it, as in one process.
        #expect(Self.maxDifference(["w": rank0["unused.weight"]!], ["w": initial["unused.weight"]!]) == 0)
        // Every step, both ranks held the gradient of the whole batch (its mean, not its sum).
        let wholeNorms = try #require(single[0]["gradient_norms"] as? [Double])
        for rank in 0..<2 {
            let norms = try #require(pair[rank]["gradient_norms"] as? [Double])
            #expect(norms.count == 5 && zip(norms, wholeNorms).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, $1) }, "\(norms) vs \(wholeNorms)")
        }
        // Each rank's loss is over its half; their mean is the whole batch's loss (first step: same weights).
        let firstLosses = try pair.map { try #require(($0["losses"] as? [Double])?.first) }
        let wholeFirstLoss = try #require((single[0]["losses"] as? [Double])?.first)
        #expect(abs((firstLosses[0] + firstLosses[1]) / 2 - wholeFirstLoss) <= 1e-5)
    }

    @Test("vidtag train --nproc 2: 8 steps uninterrupted = 3 steps, stop, --resume to 8; both ranks agree")
    func twoProcessRunResumesExactly() throws {
        let straight = TrainingFixture.temporaryFolder("ddp-a")
        let interrupted = TrainingFixture.temporaryFolder("ddp-b")
        defer {
            try? FileManager.default.removeItem(at: straight)
            try? FileManager.default.removeItem(at: interrupted)
        }
        let settings = (TrainingFixture.tinyOverrides + ["model.vocabulary=\(try TrainingFixture.vocabularyFolder.path)"])
            .flatMap { ["--set", $0] }
        func train(_ run: URL, _ extra: [String]) throws {
            let (status, output) = try TrainingFixture.runVidtag(
                ["train", "--data", TrainingFixture.demoRoot.path, "--out", run.path, "--nproc", "2"] + settings + extra)
            #expect(status == 0, "\(output)")
        }
        try train(straight, ["--force"])
        try train(interrupted, ["--force", "--stop-after-step", "3"])
        #expect(try Checkpoint.read(from: RunFolder(interrupted).checkpointURL).state.step == 3)
        try train(interrupted, ["--resume"])

        let expected = try TrainingFixture.trainLosses(straight)
        let actual = try TrainingFixture.trainLosses(interrupted)
        #expect(expected.keys.sorted() == Array(1...8))
        #expect(actual.keys.sorted() == Array(1...8), "metrics.jsonl after the resume: \(actual)")
        for step in 1...8 {
            let (a, b) = (try #require(expected[step]), actual[step] ?? .nan)
            #expect(abs(a - b) <= 1e-6, "step \(step): loss \(b) after resume, \(a) uninterrupted")
        }
        let a = try Checkpoint.read(from: RunFolder(straight).checkpointURL)
        let b = try Checkpoint.read(from: RunFolder(interrupted).checkpointURL)
        #expect(a.state.step == 8)
        #expect(TrainingFixture.maxAbsDifference(a.model, b.model) == 0)
        #expect(TrainingFixture.maxAbsDifference(a.optimizer, b.optimizer) == 0)
        // Rank 1 (its own scratch folder) ended with rank 0's weights, and drew dropout masks of its own (as
        // one process draws different masks for the two halves of its batch).
        let rank1 = try Checkpoint.read(from: RunFolder(straight.appendingPathComponent("ranks/rank-1")).checkpointURL)
        #expect(TrainingFixture.maxAbsDifference(a.model, rank1.model) <= 1e-6)
        let streams = try [a, rank1].map { try #require($0.rng["dropout"]).to(.float64) }
        #expect((streams[0] - streams[1]).abs().max().item() > 0, "each rank has its own dropout stream")
    }

    /// `vidtag train --nproc 2` arguments for a tiny run into `run`.
    static func nprocArguments(_ run: URL, _ extra: [String]) throws -> [String] {
        let settings = (TrainingFixture.tinyOverrides + ["model.vocabulary=\(try TrainingFixture.vocabularyFolder.path)"] + extra)
            .flatMap { ["--set", $0] }
        return ["train", "--data", try TrainingFixture.demoRoot.path, "--out", run.path, "--nproc", "2"] + settings
    }

    @Test("SIGTERM to the --nproc parent reaches the ranks: they stop at the same step with checkpoints, and --resume finishes",
          .enabled(if: TrainingFixture.vidtagBinary != nil, Comment(rawValue: TrainingFixture.binaryMissing)),
          .timeLimit(.minutes(3)))
    func sigtermToTheLauncherStopsEveryRank() throws {
        let run = TrainingFixture.temporaryFolder("ddp-sigterm")
        defer { try? FileManager.default.removeItem(at: run) }
        let settings = ["train.max_steps=400", "train.eval_every=1000", "train.checkpoint_every=1"]
        let rankZero = RunFolder(run).checkpointURL
        let rankOne = RunFolder(run.appendingPathComponent("ranks/rank-1")).checkpointURL
        let (status, reason, output, signalled) = try TrainingFixture.runVidtagUntilSigterm(
            try Self.nprocArguments(run, settings), checkpoint: rankZero, step: 3)
        try #require(signalled, "the run ended before it could be interrupted")
        #expect(reason == .exit && status == 128 + SIGTERM, "\(output)")
        #expect(output.contains("--resume"), "the launcher says how to resume: \(output)")
        let zero = try Checkpoint.read(from: rankZero)
        let one = try Checkpoint.read(from: rankOne)
        #expect(zero.state.step >= 3 && zero.state.step < 400)
        #expect(zero.state.step == one.state.step, "the ranks stopped at steps \(zero.state.step) and \(one.state.step)")
        #expect(TrainingFixture.maxAbsDifference(zero.model, one.model) <= 1e-6)

        let (resumeStatus, resumed) = try TrainingFixture.runVidtag(
            try Self.nprocArguments(run, ["train.max_steps=\(zero.state.step + 2)", "train.eval_every=1000"]) + ["--resume"])
        #expect(resumeStatus == 0, "\(resumed)")
        #expect(try Checkpoint.read(from: rankZero).state.step == zero.state.step + 2)
    }

    @Test("early stopping under --nproc 2: every rank stops at the same step (none is left waiting)",
          .enabled(if: TrainingFixture.vidtagBinary != nil, Comment(rawValue: TrainingFixture.binaryMissing)),
          .timeLimit(.minutes(3)))
    func earlyStoppingStopsEveryRank() throws {
        let run = TrainingFixture.temporaryFolder("ddp-patience")
        defer { try? FileManager.default.removeItem(at: run) }
        // Learning rates so small that the held-out score never changes: patience 1 runs out at the second evaluation.
        let (status, output) = try TrainingFixture.runVidtag(try Self.nprocArguments(run, [
            "train.max_steps=40", "train.eval_every=2", "train.early_stopping_patience=1", "train.text_learning_rate=1e-12",
            "train.visual_learning_rate=1e-12", "train.head_learning_rate=1e-12",
        ]))
        #expect(status == 0, "\(output)")
        let zero = try Checkpoint.read(from: RunFolder(run).checkpointURL)
        let one = try Checkpoint.read(from: RunFolder(run.appendingPathComponent("ranks/rank-1")).checkpointURL)
        #expect(zero.state.step < 40 && zero.state.evaluationsWithoutImprovement >= 1, "step \(zero.state.step)")
        #expect(zero.state.step == one.state.step, "the ranks stopped at steps \(zero.state.step) and \(one.state.step)")
    }

    @Test("a run started in 1 process resumes in 2 (the new rank starts from rank 0's checkpoint) and ends where a 2-process run ends")
    func resumeWithAnotherWorldSize() throws {
        let straight = TrainingFixture.temporaryFolder("ddp-grow-a")
        let grown = TrainingFixture.temporaryFolder("ddp-grow-b")
        defer { for url in [straight, grown] { try? FileManager.default.removeItem(at: url) } }
        // Without dropout the masks (drawn per rank) cannot differ: what is left is the order of float sums.
        let settings = ["model.dropout=0", "train.checkpoint_every=1"]
        func train(_ run: URL, nproc: Int, _ extra: [String]) throws {
            var arguments = try Self.nprocArguments(run, settings)
            arguments[arguments.firstIndex(of: "--nproc")! + 1] = String(nproc)
            let (status, output) = try TrainingFixture.runVidtag(arguments + extra)
            #expect(status == 0, "\(output)")
        }
        try train(straight, nproc: 2, ["--force"])
        try train(grown, nproc: 1, ["--force", "--stop-after-step", "3"])
        #expect(!FileManager.default.fileExists(atPath: grown.appendingPathComponent("ranks").path))
        try train(grown, nproc: 2, ["--resume"])
        let a = try Checkpoint.read(from: RunFolder(straight).checkpointURL)
        let b = try Checkpoint.read(from: RunFolder(grown).checkpointURL)
        let newRank = try Checkpoint.read(from: RunFolder(grown.appendingPathComponent("ranks/rank-1")).checkpointURL)
        #expect(a.state.step == 8 && b.state.step == 8 && newRank.state.step == 8)
        #expect(TrainingFixture.maxAbsDifference(a.model, b.model) <= 1e-4)
        #expect(TrainingFixture.maxAbsDifference(b.model, newRank.model) <= 1e-6)
    }

    @Test("--folds 2 --nproc 2 trains the folds side by side and gives the out-of-fold predictions of --folds 2 in one process",
          .enabled(if: TrainingFixture.vidtagBinary != nil, Comment(rawValue: TrainingFixture.binaryMissing)))
    func foldsSideBySide() throws {
        let sequential = TrainingFixture.temporaryFolder("folds-seq")
        let parallel = TrainingFixture.temporaryFolder("folds-par")
        defer { for url in [sequential, parallel] { try? FileManager.default.removeItem(at: url) } }
        let settings = (TrainingFixture.tinyOverrides + ["model.vocabulary=\(try TrainingFixture.vocabularyFolder.path)",
                                                         "train.max_steps=4"]).flatMap { ["--set", $0] }
        for (run, extra) in [(sequential, [String]()), (parallel, ["--nproc", "2"])] {
            let (status, output) = try TrainingFixture.runVidtag(
                ["train", "--data", try TrainingFixture.demoRoot.path, "--out", run.path, "--folds", "2"] + settings + extra)
            #expect(status == 0 && output.contains("out-of-fold score of 2 folds"), "\(output)")
        }
        #expect(try KFoldManifest.members(of: parallel)?.map(\.lastPathComponent) == ["fold-0", "fold-1"])
        let a = try Predictions.load(RunFolder(sequential).outOfFoldURL)
        let b = try Predictions.load(RunFolder(parallel).outOfFoldURL)
        #expect(a.ids == b.ids && a.truth == b.truth)
        #expect(zip(a.probabilities, b.probabilities).map { abs($0 - $1) }.max()! <= 1e-6)
    }

    @Test("evaluation under --nproc 2 is sharded and gathered: every rank holds the predictions one process makes of the held-out fold",
          .enabled(if: TrainingFixture.vidtagBinary != nil, Comment(rawValue: TrainingFixture.binaryMissing)))
    func evaluationIsShardedAndGathered() throws {
        let run = TrainingFixture.temporaryFolder("ddp-eval")
        defer { try? FileManager.default.removeItem(at: run) }
        let (status, output) = try TrainingFixture.runVidtag(try Self.nprocArguments(run, ["train.max_steps=4", "train.eval_every=2"]))
        #expect(status == 0, "\(output)")
        let gathered = try Predictions.load(RunFolder(run).outOfFoldURL)
        let rankOne = try Predictions.load(RunFolder(run.appendingPathComponent("ranks/rank-1")).outOfFoldURL)
        let runner = try ModelRunner(model: run, device: .cpu, workers: 1)
        let alone = try runner.predict(data: TrainingFixture.demo, split: "labeled", select: try runner.heldOutFold()).0
        #expect(gathered.ids == alone.ids && gathered.truth == alone.truth && !alone.ids.isEmpty)
        #expect(Set(gathered.ids).count == gathered.ids.count, "each held-out video once")
        #expect(zip(gathered.probabilities, alone.probabilities).map { abs($0 - $1) }.max()! <= 1e-5)
        #expect(rankOne.ids == gathered.ids && rankOne.probabilities == gathered.probabilities)
        let evaluations = try MetricsLog.read(RunFolder(run).metricsURL).filter { $0.kind == "eval" }
        #expect(evaluations.map(\.step) == [2, 4])

        // A folds.json placed in the run folder before the start (bench/experiments.py shares its folds so) is
        // every rank's: rank 1, in a folder of its own, holds out rank 0's fold 0, not one cut from the seed.
        let placed = TrainingFixture.temporaryFolder("ddp-eval-placed")
        defer { try? FileManager.default.removeItem(at: placed) }
        var folds = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: RunFolder(run).splitURL)) as? [String: Any])
        var lists = try #require(folds["folds"] as? [[String]])
        lists.append(lists.removeFirst())  // fold 0 is now another set of videos
        folds["folds"] = lists
        try FileManager.default.createDirectory(at: placed, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: folds).write(to: RunFolder(placed).splitURL)
        let (placedStatus, placedOutput) = try TrainingFixture.runVidtag(
            try Self.nprocArguments(placed, ["train.max_steps=2", "train.eval_every=2"]))
        #expect(placedStatus == 0, "\(placedOutput)")
        let placedPredictions = try Predictions.load(RunFolder(placed).outOfFoldURL)
        #expect(Set(placedPredictions.ids) == Set(lists[0]) && Set(lists[0]) != Set(gathered.ids))
    }

    @Test func shardsDealTheOrderLikeDistributedSampler() {
        let order = [10, 11, 12, 13, 14]
        #expect(LoaderShard(rank: 0, count: 2).deal(order) == [10, 12, 14])
        #expect(LoaderShard(rank: 1, count: 2).deal(order) == [11, 13, 10])
        #expect(LoaderShard(rank: 0, count: 1).deal(order) == order)
        // With per-rank batches of B / W, the ranks' k-th batches are the whole order's k-th batch of B.
        let long = Array(0..<12)
        let shards = (0..<3).map { LoaderShard(rank: $0, count: 3).deal(long) }
        for k in 0..<2 {
            let together = shards.flatMap { $0[(2 * k)..<(2 * k + 2)] }.sorted()
            #expect(together == Array(long[(6 * k)..<(6 * k + 6)]))
        }
    }

    @Test func bucketsSplitAtTheCapacityAndAtDtypeChanges() {
        let tensors = [
            Tensor.zeros([4]), Tensor.zeros([4]), Tensor.zeros([8]), Tensor.zeros([2], dtype: .float64), Tensor.zeros([1]),
        ]
        // 16 + 16 bytes fit in 40; 32 more do not; float64 starts its own; the last float32 after it too.
        #expect(DataParallel.bucket([0, 1, 2, 3, 4], of: tensors, capacity: 40) == [[0, 1], [2], [3], [4]])
        #expect(DataParallel.bucket([4, 3, 2, 1, 0], of: tensors, capacity: 1 << 20) == [[4], [3], [2, 1, 0]])
    }
}
