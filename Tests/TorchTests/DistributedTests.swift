import Foundation
import Testing

@testable import Torch

/// Ranks of `vidtag-dist-worker` (Tests/DistributedWorker) started on loopback, and what each wrote.
struct WorkerRun {
    var statuses: [Int32]
    var outputs: [String]
    var errors: [String]

    /// The worker beside the test bundle (the same build).
    static let worker: URL? = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        return [bundle.deletingLastPathComponent(), bundle.deletingLastPathComponent().deletingLastPathComponent()]
            .map { $0.appendingPathComponent("vidtag-dist-worker") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// Runs `scenario` on `worldSize` ranks to completion. Ranks still alive `hangGuard` after the start are
    /// terminated (a guard so that a broken group cannot hang the test run; no test asserts on time).
    init(_ scenario: String, worldSize: Int = 2, timeoutSeconds: Int = 60, hangGuard: Duration = .seconds(300)) throws {
        let executable = try #require(Self.worker, "vidtag-dist-worker was not built: run swift build --build-tests")
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("vidtag-dist-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func file(_ rank: Int, _ stream: String) -> URL { folder.appendingPathComponent("rank\(rank).\(stream)") }
        var handles: [FileHandle] = []
        let launch = try LocalLaunch(
            executable: executable, arguments: [scenario, "--timeout", String(timeoutSeconds)], worldSize: worldSize
        ) { rank in
            FileManager.default.createFile(atPath: file(rank, "out").path, contents: nil)
            FileManager.default.createFile(atPath: file(rank, "err").path, contents: nil)
            let out = FileHandle(forWritingAtPath: file(rank, "out").path)
            let err = FileHandle(forWritingAtPath: file(rank, "err").path)
            handles += [out, err].compactMap { $0 }
            return (out, err)
        }
        statuses = launch.wait(deadline: hangGuard)
        for handle in handles { try? handle.close() }
        outputs = try (0..<worldSize).map { try String(contentsOf: file($0, "out"), encoding: .utf8) }
        errors = try (0..<worldSize).map { try String(contentsOf: file($0, "err"), encoding: .utf8) }
    }

    func json(_ rank: Int) throws -> [String: Any] {
        let line = try #require(outputs[rank].split(separator: "\n").last, "rank \(rank) wrote nothing; stderr: \(errors[rank])")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
}

@Suite("c10d process groups on loopback (Gloo)", .serialized, .enabled(if: DistributedBackend.gloo.isAvailable))
struct DistributedTests {
    @Test func collectivesGiveTheHandComputedValuesOnEveryRank() throws {
        let run = try WorkerRun("collectives")
        #expect(run.statuses == [0, 0], "stderr: \(run.errors)")
        for rank in 0..<2 {
            let result = try run.json(rank)
            #expect(result["rank"] as? Int == rank)
            // Rank r contributed [r + 1, 10 (r + 1)]: sum [1 + 2, 10 + 20], mean half of it.
            #expect(result["sum"] as? [Double] == [3, 30])
            #expect(result["average"] as? [Double] == [1.5, 15])
            // Rank 1 broadcast [100 + 1, 200 + 1].
            #expect(result["broadcast"] as? [Double] == [101, 201])
            // Rank r gathered [r, r + 0.5] in rank order.
            #expect(result["gathered_shape"] as? [Int] == [2, 2])
            #expect(result["gathered"] as? [Double] == [0, 0.5, 1, 1.5])
        }
    }

    @Test func aKilledRankMakesTheOtherFailWithAnErrorNamingRankAndOperation() throws {
        let run = try WorkerRun("rank-1-killed", timeoutSeconds: 30)
        #expect(run.statuses[1] == SIGKILL, "rank 1 killed itself: \(run.errors[1])")
        #expect(run.statuses[0] == 2, "rank 0 ended with an error, not a hang or a crash: \(run.errors[0])")
        #expect(run.errors[0].contains("rank 0 of 2 (gloo): all_reduce failed"), "\(run.errors[0])")
    }

    @Test func aHangingRankMakesTheOtherFailAtTheTimeout() throws {
        let run = try WorkerRun("rank-1-hangs", timeoutSeconds: 3, hangGuard: .seconds(120))
        #expect(run.statuses[0] == 2, "rank 0 gave up with an error: \(run.errors[0])")
        #expect(run.errors[0].contains("rank 0 of 2 (gloo): all_reduce did not finish within 3000 ms"), "\(run.errors[0])")
    }

    @Test func aRendezvousNobodyJoinsFailsNamingTheRank() throws {
        let port = try LocalLaunch.freePort()
        let error = #expect(throws: DistributedError.self) {
            _ = try ProcessGroup(rank: 1, worldSize: 2, masterAddress: "127.0.0.1", masterPort: port, timeout: .seconds(1))
        }
        #expect(error?.rank == 1)
        #expect(error?.operation == "rendezvous")
        #expect(error?.message.hasPrefix("rank 1 of 2 (gloo): rendezvous failed") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("127.0.0.1:\(port)") == true, "\(error?.message ?? "")")
    }

    @Test func aGroupOfOneReducesToItselfAndRejectsARootOutsideIt() throws {
        let group = try ProcessGroup(
            rank: 0, worldSize: 1, masterAddress: "127.0.0.1", masterPort: try LocalLaunch.freePort(),
            timeout: .seconds(30))
        let tensor = Tensor([1.0, 2.0])
        try group.allReduce(tensor, .average)
        #expect(tensor.toArray(Double.self) == [1, 2])
        #expect(try group.allGather(tensor).shape == [1, 2])
        try group.barrier()
        let error = #expect(throws: DistributedError.self) { try group.broadcast(tensor, from: 1) }
        #expect(error?.operation == "broadcast")
        #expect(error?.message == "rank 0 of 1 (gloo): broadcast: root 1 outside the world", "\(error?.message ?? "")")
    }

    @Test func theLauncherEnvironmentIsRead() throws {
        let torchrun = ["WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "MASTER_ADDR": "node7", "MASTER_PORT": "1234"]
        #expect(
            try DistributedLaunch.fromEnvironment(torchrun)
                == DistributedLaunch(rank: 3, worldSize: 4, localRank: 1, masterAddress: "node7", masterPort: 1234))
        let slurm = ["SLURM_NTASKS": "8", "SLURM_PROCID": "5", "SLURM_LOCALID": "1", "MASTER_ADDR": "node1"]
        #expect(
            try DistributedLaunch.fromEnvironment(slurm)
                == DistributedLaunch(rank: 5, worldSize: 8, localRank: 1, masterAddress: "node1", masterPort: 29500))
        #expect(try DistributedLaunch.fromEnvironment([:]) == nil)
        #expect(throws: RuntimeError.self) { try DistributedLaunch.fromEnvironment(["WORLD_SIZE": "2", "RANK": "2", "MASTER_ADDR": "a"]) }
        #expect(throws: RuntimeError.self) { try DistributedLaunch.fromEnvironment(["WORLD_SIZE": "2", "RANK": "x", "MASTER_ADDR": "a"]) }
        #expect(throws: RuntimeError.self) { try DistributedLaunch.fromEnvironment(["WORLD_SIZE": "2", "RANK": "1"]) }
    }
}
