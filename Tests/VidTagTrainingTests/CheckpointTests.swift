import Foundation
import Testing
import Torch
@testable import VidTagTraining

#if canImport(Glibc)
import Glibc
#endif

/// A crash at any moment of a checkpoint write leaves a complete checkpoint that reads back.
@Suite struct CheckpointTests {
    struct SimulatedCrash: Error {}

    static func checkpoint(step: Int) -> Checkpoint {
        var state = TrainerState()
        state.step = step
        state.totalSteps = 10
        return Checkpoint(
            model: ["w": Tensor([Float(step), 1, 2], shape: [3])],
            optimizer: ["w.exp_avg": Tensor([Float(step)], shape: [1])],
            rng: ["default_cpu": Generator.defaultState],
            state: state,
            extras: ["ema.w": Tensor([Float(step) / 2], shape: [1])])
    }

    /// The step of the newest complete checkpoint, read in full.
    static func latestStep(_ folder: URL) throws -> Int {
        let found = try #require(Checkpoint.latest(at: folder), "no complete checkpoint at \(folder.path)")
        let checkpoint = try Checkpoint.read(from: found)
        #expect(checkpoint.model["w"]?.toArray(Float.self).first == Float(checkpoint.state.step))
        return checkpoint.state.step
    }

    @Test("a write that dies after any of its files leaves the previous checkpoint",
          arguments: ["model.safetensors", "optimizer.safetensors", "rng.safetensors", "tricks.safetensors",
                      "trainer_state.json", "checkpoint.previous"])
    func crashAfterAFile(file: String) throws {
        let run = TrainingFixture.temporaryFolder("checkpoint")
        defer { try? FileManager.default.removeItem(at: run) }
        let folder = run.appendingPathComponent("checkpoint")
        try Self.checkpoint(step: 1).write(to: folder)
        #expect(try Self.latestStep(folder) == 1)

        var written: [String] = []
        #expect(throws: SimulatedCrash.self) {
            try Self.checkpoint(step: 2).write(to: folder) { name in
                written.append(name)
                if name == file { throw SimulatedCrash() }
            }
        }
        #expect(written.last == file)
        #expect(try Self.latestStep(folder) == 1)

        // The next write after the crash completes, and only one checkpoint remains.
        try Self.checkpoint(step: 3).write(to: folder)
        #expect(try Self.latestStep(folder) == 3)
        let left = try FileManager.default.contentsOfDirectory(atPath: run.path).sorted()
        #expect(left == ["checkpoint"])
    }

    @Test("after a crash between the renames, a second crash still leaves the moved-aside checkpoint")
    func crashTwice() throws {
        let run = TrainingFixture.temporaryFolder("checkpoint")
        defer { try? FileManager.default.removeItem(at: run) }
        let folder = run.appendingPathComponent("checkpoint")
        try Self.checkpoint(step: 1).write(to: folder)
        #expect(throws: SimulatedCrash.self) {
            try Self.checkpoint(step: 2).write(to: folder) { if $0.hasSuffix(".previous") { throw SimulatedCrash() } }
        }
        #expect(!FileManager.default.fileExists(atPath: folder.path))
        #expect(Checkpoint.latest(at: folder)?.lastPathComponent == "checkpoint.previous")
        #expect(throws: SimulatedCrash.self) {
            try Self.checkpoint(step: 3).write(to: folder) { if $0 == "model.safetensors" { throw SimulatedCrash() } }
        }
        #expect(try Self.latestStep(folder) == 1)
        try Self.checkpoint(step: 4).write(to: folder)
        #expect(try Self.latestStep(folder) == 4)
        #expect(Checkpoint.latest(at: folder)?.lastPathComponent == "checkpoint")
    }

    @Test("no checkpoint: latest is nil; a damaged one is an error naming its folder")
    func missingAndDamaged() throws {
        let run = TrainingFixture.temporaryFolder("checkpoint")
        defer { try? FileManager.default.removeItem(at: run) }
        let folder = run.appendingPathComponent("checkpoint")
        #expect(Checkpoint.latest(at: folder) == nil)
        try Self.checkpoint(step: 1).write(to: folder)
        try Data("{\"step\": ".utf8).write(to: folder.appendingPathComponent("trainer_state.json"))
        do {
            _ = try Checkpoint.read(from: folder)
            Issue.record("a torn trainer_state.json must not read")
        } catch {
            #expect("\(error)".contains(folder.path), "\(error)")
        }
    }
}

extension TrainingRunTests {
    /// `vidtag train` killed with SIGKILL at random moments (checkpoints written every step) always leaves a
    /// checkpoint that reads, and `--resume` goes on from it.
    @Suite struct KilledRun {
        @Test("SIGKILL at random moments, five times: Checkpoint.latest reads, --resume continues",
              .enabled(if: TrainingFixture.vidtagBinary != nil, Comment(rawValue: TrainingFixture.binaryMissing)),
              .timeLimit(.minutes(2)))
        func killDuringWrites() throws {
            let binary = try #require(TrainingFixture.vidtagBinary)
            let run = TrainingFixture.temporaryFolder("killed")
            defer { try? FileManager.default.removeItem(at: run) }
            let checkpoint = RunFolder(run).checkpointURL
            var arguments = ["train", "--data", try TrainingFixture.demoRoot.path, "--out", run.path]
            let vocabulary = try TrainingFixture.vocabularyFolder
            for override in TrainingFixture.tinyOverrides + [
                "model.vocabulary=\(vocabulary.path)", "model.kind=baseline",
                "train.max_steps=100000", "train.eval_every=1", "data.validation_fraction=0.05",
            ] {
                arguments += ["--set", override]
            }

            var generator = SystemRandomNumberGenerator()
            var lastStep = 0
            var killedMidWrite = 0
            for round in 0..<5 {
                let process = Process()
                process.executableURL = binary
                process.arguments = round == 0 ? arguments : arguments + ["--resume"]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                // Wait until this process has written a checkpoint of its own, then kill it a moment later.
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline, process.isRunning {
                    if let found = Checkpoint.latest(at: checkpoint),
                       let state = try? Checkpoint.read(from: found).state, state.step > lastStep { break }
                    usleep(20_000)
                }
                #expect(process.isRunning, "round \(round): vidtag train stopped by itself (status \(process.terminationStatus))")
                usleep(UInt32.random(in: 0...400_000, using: &generator))
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                #expect(process.terminationReason == .uncaughtSignal)

                let partialLeft = FileManager.default.fileExists(atPath: checkpoint.path + ".partial")
                let previousLeft = FileManager.default.fileExists(atPath: checkpoint.path + ".previous")
                if partialLeft || previousLeft { killedMidWrite += 1 }
                let found = try #require(Checkpoint.latest(at: checkpoint), "round \(round): no checkpoint after SIGKILL")
                let state = try Checkpoint.read(from: found).state
                #expect(state.step > lastStep, "round \(round): the checkpoint did not advance past step \(lastStep)")
                lastStep = state.step
            }
            // A clean end: resume for one more step and stop.
            let (status, output) = try TrainingFixture.runVidtag(
                arguments + ["--resume", "--stop-after-step", "\(lastStep + 1)"])
            #expect(status == 0, "\(output)")
            #expect(output.contains("resuming"), "\(output)")
            #expect(try Checkpoint.read(from: checkpoint).state.step == lastStep + 1)
            print("killed run: 5 kills, \(killedMidWrite) of them left a checkpoint write unfinished")
        }
    }
}
