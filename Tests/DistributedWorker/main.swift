// vidtag-dist-worker: one rank of the multi-process tests (Tests/TorchTests/DistributedTests.swift). The test
// starts it N times with the launcher's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), each
// process runs one scenario and writes what it computed to stdout as JSON; the test checks the values. A
// failure is written to stderr and ends the process with status 2.
import Foundation
import Torch

struct Arguments {
    var scenario = ""
    var timeoutSeconds = 60

    init(_ arguments: [String]) throws {
        var rest = arguments.dropFirst()
        guard let scenario = rest.popFirst() else { throw RuntimeError("usage: vidtag-dist-worker SCENARIO [--timeout S]") }
        self.scenario = scenario
        while let flag = rest.popFirst() {
            guard flag == "--timeout", let value = rest.popFirst().flatMap(Int.init) else {
                throw RuntimeError("unknown or incomplete option \(flag)")
            }
            timeoutSeconds = value
        }
    }
}

func emit(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}

func values(_ tensor: Tensor) -> [Double] { tensor.toArray(Double.self) }

func run() throws {
    let arguments = try Arguments(CommandLine.arguments)
    Runtime.threads = 1
    guard let group = try ProcessGroup.fromEnvironment(timeout: .seconds(arguments.timeoutSeconds)) else {
        throw RuntimeError("no distributed launch in the environment (WORLD_SIZE is not set)")
    }
    let r = Double(group.rank)
    switch arguments.scenario {
    case "collectives":
        // Rank r contributes [r + 1, 10 (r + 1)]; rank 1 broadcasts [100 + r, 200 + r]; rank r gathers [r, r + 0.5].
        let summed = Tensor([r + 1, 10 * (r + 1)])
        try group.allReduce(summed, .sum)
        let averaged = Tensor([r + 1, 10 * (r + 1)])
        try group.allReduce(averaged, .average)
        let broadcast = Tensor([100 + r, 200 + r])
        try group.broadcast(broadcast, from: 1)
        let gathered = try group.allGather(Tensor([r, r + 0.5]))
        try group.barrier()
        try emit([
            "rank": group.rank, "sum": values(summed), "average": values(averaged), "broadcast": values(broadcast),
            "gathered_shape": gathered.shape, "gathered": values(gathered.flatten()),
        ])
    case "rank-1-killed", "rank-1-hangs":
        try group.allReduce(Tensor([r]))
        if group.rank == 1 {
            if arguments.scenario == "rank-1-killed" {
                kill(getpid(), SIGKILL)
            }
            // Hangs without joining the next collective (the test ends this process once rank 0 is done).
            Thread.sleep(forTimeInterval: Double(4 * arguments.timeoutSeconds))
            return
        }
        try group.allReduce(Tensor([r]))
        try emit(["rank": group.rank, "unexpected": "the second all-reduce succeeded without rank 1"])
    default:
        throw RuntimeError("unknown scenario \(arguments.scenario)")
    }
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("vidtag-dist-worker: \(error)\n".utf8))
    exit(2)
}
