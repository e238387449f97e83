import CTorch
import Foundation

/// The c10d backend a process group runs its collectives on.
public enum DistributedBackend: String, CaseIterable, Sendable {
    /// Gloo over TCP: CPU tensors.
    case gloo
    /// NCCL: CUDA tensors (only in a shim built against a CUDA libtorch with NCCL's headers).
    case nccl

    var code: Int32 {
        switch self {
        case .gloo: Int32(CT_DIST_GLOO.rawValue)
        case .nccl: Int32(CT_DIST_NCCL.rawValue)
        }
    }

    /// Whether the loaded shim was built with this backend.
    public var isAvailable: Bool { ct_dist_backend_available(code) }

    /// The backend for tensors on `device`: NCCL for CUDA, Gloo for the CPU.
    public static func `for`(_ device: Device) -> DistributedBackend {
        switch device {
        case .cpu: .gloo
        case .cuda: .nccl
        }
    }
}

/// How `allReduce` combines the ranks' tensors.
public enum ReduceOperation: Sendable {
    case sum
    case average

    var code: Int32 {
        switch self {
        case .sum: Int32(CT_DIST_SUM.rawValue)
        case .average: Int32(CT_DIST_AVG.rawValue)
        }
    }
}

/// A failed or timed-out rendezvous or collective. The message names the rank and the operation.
public struct DistributedError: Error, CustomStringConvertible, Sendable {
    /// The rank that saw the failure.
    public let rank: Int
    /// `rendezvous`, `all_reduce`, `broadcast`, `all_gather` or `barrier`.
    public let operation: String
    /// The whole explanation, starting with the rank (libtorch's message included).
    public let message: String

    public var description: String { message }
}

/// Where this process sits in a multi-process job, as torchrun and Slurm describe it in the environment.
public struct DistributedLaunch: Equatable, Sendable {
    public var rank: Int
    public var worldSize: Int
    /// The rank among the processes on this machine (picks the GPU).
    public var localRank: Int
    /// Host of the rendezvous store (rank 0 listens there).
    public var masterAddress: String
    public var masterPort: Int

    public init(rank: Int, worldSize: Int, localRank: Int, masterAddress: String, masterPort: Int) {
        self.rank = rank
        self.worldSize = worldSize
        self.localRank = localRank
        self.masterAddress = masterAddress
        self.masterPort = masterPort
    }

    /// torchrun's default rendezvous port.
    public static let defaultMasterPort = 29500

    /// Reads `WORLD_SIZE`, `RANK`, `LOCAL_RANK`, `MASTER_ADDR` and `MASTER_PORT` (torchrun), falling back to
    /// Slurm's `SLURM_NTASKS`, `SLURM_PROCID` and `SLURM_LOCALID` for the first three. Returns nil when
    /// neither `WORLD_SIZE` nor `SLURM_NTASKS` is set (a single-process run); throws when a variable is
    /// malformed or the others are missing.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> DistributedLaunch?
    {
        func integer(_ names: [String], required: Bool) throws -> Int? {
            for name in names {
                guard let text = environment[name] else { continue }
                guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                    throw RuntimeError("environment variable \(name)=\"\(text)\" is not a non-negative integer")
                }
                return value
            }
            if required {
                throw RuntimeError(
                    "a distributed launch (WORLD_SIZE or SLURM_NTASKS is set) also needs \(names.joined(separator: " or "))"
                        + ": start the job with torchrun, srun, or vidtag train --nproc N")
            }
            return nil
        }
        guard let worldSize = try integer(["WORLD_SIZE", "SLURM_NTASKS"], required: false) else { return nil }
        let rank = try integer(["RANK", "SLURM_PROCID"], required: true)!
        let localRank = try integer(["LOCAL_RANK", "SLURM_LOCALID"], required: false) ?? rank
        let port = try integer(["MASTER_PORT"], required: false) ?? defaultMasterPort
        guard worldSize >= 1, rank < worldSize else {
            throw RuntimeError("rank \(rank) is outside a world of \(worldSize) processes (RANK / WORLD_SIZE)")
        }
        guard port <= 65535 else { throw RuntimeError("MASTER_PORT=\(port) is not a TCP port") }
        guard let address = environment["MASTER_ADDR"], !address.isEmpty else {
            if worldSize == 1 {
                return DistributedLaunch(
                    rank: 0, worldSize: 1, localRank: localRank, masterAddress: "127.0.0.1", masterPort: port)
            }
            throw RuntimeError(
                "a distributed launch needs MASTER_ADDR (the host of rank 0); torchrun sets it, under Slurm export "
                    + "MASTER_ADDR=$(scontrol show hostnames $SLURM_JOB_NODELIST | head -n 1)")
        }
        return DistributedLaunch(
            rank: rank, worldSize: worldSize, localRank: localRank, masterAddress: address, masterPort: port)
    }
}

/// A group of processes running collectives together on libtorch's c10d: a `TCPStore` for the rendezvous
/// (rank 0 hosts it), `ProcessGroupGloo` for CPU tensors, `ProcessGroupNCCL` for CUDA tensors.
///
/// Every rank must issue the same collectives in the same order, from one thread. Each call waits until
/// its collective has finished, at most `timeout`; a failure — a peer that died, hung or disagrees — throws
/// a `DistributedError` naming the rank and the operation, after which the group is unusable.
public final class ProcessGroup {
    public let rank: Int
    public let worldSize: Int
    public let backend: DistributedBackend
    public let timeout: Duration
    private let store: OpaquePointer
    let handle: OpaquePointer

    /// Joins the group: rank 0 hosts the rendezvous store on `masterPort`, the others connect to
    /// `masterAddress`. Returns once all `worldSize` ranks have joined; throws when they have not within
    /// `timeout`. Gloo binds to the loopback device when `masterAddress` is a loopback address, otherwise to
    /// the interface named by `GLOO_SOCKET_IFNAME` or the address this machine's hostname resolves to.
    public init(
        rank: Int, worldSize: Int, masterAddress: String, masterPort: Int, backend: DistributedBackend = .gloo,
        timeout: Duration = .seconds(300)
    ) throws {
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        let prefix = "rank \(rank) of \(worldSize) (\(backend.rawValue))"
        var store: OpaquePointer?
        if ct_store_new(masterAddress, Int32(masterPort), rank == 0, Int32(worldSize), milliseconds, &store) != 0 {
            throw DistributedError(
                rank: rank, operation: "rendezvous",
                message: "\(prefix): rendezvous failed: \(String(cString: ct_last_error()))")
        }
        let loopback = ["127.0.0.1", "localhost", "::1"].contains(masterAddress)
        let interface = ProcessInfo.processInfo.environment["GLOO_SOCKET_IFNAME"]
        var group: OpaquePointer?
        let status = ct_process_group_new(
            backend.code, store, Int32(rank), Int32(worldSize), loopback ? "127.0.0.1" : nil,
            loopback ? nil : interface, milliseconds, &group)
        guard status == 0, let group, let store else {
            let message = String(cString: ct_last_error())
            ct_store_free(store)
            throw DistributedError(rank: rank, operation: "rendezvous", message: message)
        }
        self.rank = rank
        self.worldSize = worldSize
        self.backend = backend
        self.timeout = timeout
        self.store = store
        self.handle = group
    }

    /// Joins the group the launcher described (`DistributedLaunch.fromEnvironment`).
    public convenience init(_ launch: DistributedLaunch, backend: DistributedBackend = .gloo,
                            timeout: Duration = .seconds(300)) throws {
        try self.init(
            rank: launch.rank, worldSize: launch.worldSize, masterAddress: launch.masterAddress,
            masterPort: launch.masterPort, backend: backend, timeout: timeout)
    }

    /// The group torchrun, Slurm or `vidtag train --nproc` started this process in; nil when the
    /// environment describes no distributed launch.
    public static func fromEnvironment(backend: DistributedBackend = .gloo, timeout: Duration = .seconds(300))
        throws -> ProcessGroup?
    {
        guard let launch = try DistributedLaunch.fromEnvironment() else { return nil }
        return try ProcessGroup(launch, backend: backend, timeout: timeout)
    }

    deinit {
        ct_process_group_free(handle)
        ct_store_free(store)
    }

    func check(_ operation: String, _ status: Int32) throws {
        if status != 0 {
            throw DistributedError(rank: rank, operation: operation, message: String(cString: ct_last_error()))
        }
    }

    /// In place on every rank: `tensor` becomes the sum or the mean of all ranks' `tensor`. It must be
    /// contiguous, on this group's device, and of the same shape and dtype on every rank.
    public func allReduce(_ tensor: Tensor, _ operation: ReduceOperation = .sum) throws {
        try withExtendedLifetime(tensor) {
            try check("all_reduce", ct_dist_all_reduce(handle, tensor.handle, operation.code))
        }
    }

    /// In place: every rank's `tensor` becomes rank `root`'s.
    public func broadcast(_ tensor: Tensor, from root: Int = 0) throws {
        try withExtendedLifetime(tensor) {
            try check("broadcast", ct_dist_broadcast(handle, tensor.handle, Int32(root)))
        }
    }

    /// Every rank's `tensor` stacked in rank order: `[worldSize, …tensor.shape]`.
    public func allGather(_ tensor: Tensor) throws -> Tensor {
        var out: OpaquePointer?
        try withExtendedLifetime(tensor) {
            try check("all_gather", ct_dist_all_gather(handle, tensor.handle, &out))
        }
        return Tensor(handle: out)
    }

    /// Returns once every rank has reached it.
    public func barrier() throws {
        try check("barrier", ct_dist_barrier(handle))
    }
}

/// Gradient averaging overlapped with the backward pass, as DistributedDataParallel's reducer does it: a hook
/// on each parameter's gradient accumulator marks its gradient ready; once every gradient of a bucket is
/// ready its all-reduce starts (buckets start in bucket order on every rank, so the ranks' collectives
/// match) while backward goes on with the layers below. `finish` then completes the buckets backward left
/// open (a parameter without a gradient counts as zeros), waits for all of them and writes the means back.
///
/// Only the backward pass after `prepare` reduces: earlier passes of the same step (gradient accumulation,
/// an adversarial pass) just accumulate, like DDP's `no_sync`.
public final class GradientReducer {
    public let group: ProcessGroup
    private let handle: OpaquePointer

    /// - buckets: indices into `parameters`, every index in exactly one bucket, one dtype and device each;
    ///   put the parameters backward reaches first (the last layers) in the first buckets.
    public init(group: ProcessGroup, parameters: [Tensor], buckets: [[Int]]) throws {
        self.group = group
        var out: OpaquePointer?
        let members = buckets.flatMap { $0.map(Int64.init) }
        let sizes = buckets.map { Int64($0.count) }
        let status = withHandles(parameters) { handles in
            ct_grad_reducer_new(group.handle, handles, Int32(parameters.count), members, sizes, Int32(buckets.count), &out)
        }
        try group.check("gradient reducer", status)
        handle = out!
    }

    deinit { ct_grad_reducer_free(handle) }

    /// How many buckets had started their all-reduce before the last `finish` (inside the backward pass,
    /// or at `prepare` for buckets whose parameters the loss does not reach): the overlap.
    public private(set) var bucketsLaunchedBeforeFinish = 0

    /// Arms the hooks for the backward pass of `loss`, the last of the optimizer step. Parameters the loss
    /// does not reach count as ready at once (DDP's `find_unused_parameters`). The vote rides in the last
    /// bucket. With `loss` nil, called after the backward pass: `finish` then launches every bucket (no
    /// overlap).
    public func prepare(for loss: Tensor?, votingToStop: Bool) throws {
        let status = withExtendedLifetime(loss) { ct_grad_reducer_prepare(handle, loss?.handle, votingToStop ? 1 : 0) }
        try group.check("gradient reducer", status)
    }

    /// After that backward pass: every gradient becomes its mean over the ranks (a parameter no rank had a
    /// gradient for keeps none). Returns the share of ranks that voted to stop, a one-element tensor left
    /// on the device.
    public func finish() throws -> Tensor {
        var votes: OpaquePointer?
        var launched: Int32 = 0
        try group.check("all_reduce", ct_grad_reducer_finish(handle, &votes, &launched))
        bucketsLaunchedBeforeFinish = Int(launched)
        return Tensor(handle: votes)
    }
}
