// vidtag-dist-worker: one rank of the multi-process tests (Tests/TorchTests/DistributedTests.swift). The test
// starts it N times with the launcher's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), each
// process runs one scenario and writes what it computed to stdout as JSON; the test checks the values. A
// failure is written to stderr and ends the process with status 2.
import Foundation
import Torch
import VidTagData
import VidTagTraining

struct Arguments {
    var scenario = ""
    var timeoutSeconds = 60
    var out: URL?
    var elements = 1
    /// `train`: all-reduce inside the backward pass (`GradientReducer`) or after it.
    var overlap = true

    init(_ arguments: [String]) throws {
        var rest = arguments.dropFirst()
        guard let scenario = rest.popFirst() else { throw RuntimeError("usage: vidtag-dist-worker SCENARIO [--timeout S]") }
        self.scenario = scenario
        while let flag = rest.popFirst() {
            switch (flag, rest.popFirst()) {
            case ("--timeout", let value?) where Int(value) != nil: timeoutSeconds = Int(value)!
            case ("--out", let value?): out = URL(fileURLWithPath: value)
            case ("--elements", let value?) where Int(value) != nil: elements = Int(value)!
            case ("--overlap", let value?) where ["yes", "no"].contains(value): overlap = value == "yes"
            default: throw RuntimeError("unknown or incomplete option \(flag)")
            }
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
    case "all-reduce-time":
        // The median time of one all-reduce (mean) of `--elements` float32 values, over 20 after 3 warm-ups:
        // the gradient exchange of a model of that many parameters (docs/results/scaling.md).
        let tensor = Tensor.zeros([arguments.elements])
        var times: [Double] = []
        for round in 0..<23 {
            try group.barrier()
            let start = ContinuousClock.now
            try group.allReduce(tensor, .average)
            let elapsed = ContinuousClock.now - start
            if round >= 3 { times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3) }
        }
        try emit(["rank": group.rank, "elements": arguments.elements, "median_ms": times.sorted()[times.count / 2]])
    case "train":
        guard let out = arguments.out else { throw RuntimeError("train needs --out DIR") }
        try trainOnShard(group, out: out, overlap: arguments.overlap)
    default:
        throw RuntimeError("unknown scenario \(arguments.scenario)")
    }
}

/// Five AdamW steps of a small MLP on rank `rank`'s shard of one fixed batch of 8, with gradients averaged
/// by `DataParallel` (inside the backward pass when `overlap`). Each step runs two backward passes of half
/// the loss, as gradient accumulation does: only the second reduces. Each rank initialises with its own seed
/// (so that the broadcast from rank 0 matters); `unused.weight` never gets a gradient. Writes the weights
/// after the broadcast and at the end.
func trainOnShard(_ group: ProcessGroup, out: URL, overlap: Bool) throws {
    let store = ParameterStore(seed: 1234 + UInt64(group.rank))
    let hidden = Linear(store.root("hidden"), inputSize: 6, outputSize: 16)
    let norm = LayerNorm(store.root("norm"), size: 16)
    let head = Linear(store.root("head"), inputSize: 16, outputSize: 4)
    _ = store.root("unused").parameter("weight", shape: [3], initializer: .normal(std: 1))
    let oddRowsHead = Linear(store.root("odd"), inputSize: 6, outputSize: 4)
    let data = Generator(seed: 7)
    let inputs = Tensor.randn([8, 6], generator: data)
    let targets = Tensor.randint(0, 4, [8], generator: data)
    let shard = LoaderShard(rank: group.rank, count: group.worldSize).deal(Array(0..<8))
    let rows = Tensor(shard.map(Int64.init))
    let x = inputs.indexSelect(dim: 0, index: rows)
    let y = targets.indexSelect(dim: 0, index: rows)
    // Rows 1, 3, 5, 7 also pass through `odd`: on 2 ranks only rank 1 has them, so rank 0 has no gradient
    // for `odd` and must take rank 1's (halved).
    let odd = Tensor(shard.enumerated().filter { $0.element % 2 == 1 }.map { Int64($0.offset) })

    let trainable = store.trainable().map { (name: $0.name, tensor: $0.tensor) }
    // A small bucket capacity, so that the gradients travel in several buckets.
    let parallel = try DataParallel(
        group: group, parameters: trainable.map(\.tensor), bucketBytes: 256, overlapWithBackward: overlap)
    try parallel.broadcastFromRankZero(store.all.map(\.tensor))
    let name = "rank\(group.rank)-of-\(group.worldSize)"
    try SafeTensors.save(store.stateDict(), to: out.appendingPathComponent("\(name)-initial.safetensors"))
    let optimizer = AdamW(groups: [.init(name: "all", parameters: trainable, learningRate: 0.01, weightDecay: 0.01)])
    var losses: [Double] = []
    var gradientNorms: [Double] = []
    var launchedBeforeFinish: [Int] = []
    for _ in 0..<5 {
        func forwardLoss() -> Tensor {
            var loss = head(norm(hidden(x)).gelu()).crossEntropy(y)
            if odd.count > 0 {
                // Summed over the odd rows, divided by all of this rank's rows: part of the per-row mean.
                let oddLoss = oddRowsHead(x.indexSelect(dim: 0, index: odd)).crossEntropy(y.indexSelect(dim: 0, index: odd), reduction: .sum)
                loss = loss + oddLoss * (1 / Double(shard.count))
            }
            return loss
        }
        let loss = forwardLoss()
        (loss * 0.5).backward()
        let final = forwardLoss() * 0.5
        try parallel.beforeFinalBackward(of: final, votingToStop: false)
        final.backward()
        try parallel.synchronizeGradients()
        launchedBeforeFinish.append(parallel.reducer.bucketsLaunchedBeforeFinish)
        // The norm of the averaged gradients (a bound this large never clips); AdamW alone would hide a
        // wrong scale, since its step does not depend on the gradients' scale.
        gradientNorms.append(clipGradNorm(parallel.parameters, maxNorm: 1e30).item())
        optimizer.step()
        optimizer.zeroGrad()
        losses.append(loss.item())
    }
    try SafeTensors.save(store.stateDict(), to: out.appendingPathComponent("\(name)-final.safetensors"))
    try emit([
        "rank": group.rank, "losses": losses, "gradient_norms": gradientNorms, "buckets": parallel.buckets.count,
        "launched_before_finish": launchedBeforeFinish,
    ])
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("vidtag-dist-worker: \(error)\n".utf8))
    exit(2)
}
