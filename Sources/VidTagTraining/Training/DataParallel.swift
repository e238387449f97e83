import Torch

/// Data-parallel training over a c10d process group, PyTorch DistributedDataParallel's recipe: every rank
/// holds the whole model, starts from rank 0's weights, trains on its own shard of each batch and, after
/// the backward pass, replaces its gradients by their mean over the ranks, so that every rank takes the
/// same optimizer step — the step one process would take on the whole batch. Each rank reads its share of
/// the epoch order (`LoaderSettings.shard`).
///
/// Gradients travel in buckets of about `bucketBytes` (DDP's `bucket_cap_mb`, 25 MiB by default): each
/// bucket's gradients are flattened into one buffer, all-reduced in one collective and copied back. The
/// buckets hold the parameters in reverse order, the order backward produces their gradients. By default
/// the all-reduce overlaps the backward pass (`GradientReducer`: a bucket starts as soon as backward has
/// produced its last gradient); `overlapWithBackward: false` runs every bucket after backward instead (the
/// same reducer, armed after the pass).
///
/// A step calls `beforeFinalBackward` before its last backward pass (the one after which the gradients
/// are final: earlier passes of gradient accumulation or adversarial training only accumulate) and
/// `synchronizeGradients` after it.
///
/// Stopping is agreed, never decided by one rank alone (a rank that left the loop would leave the others
/// waiting in their next all-reduce): each rank's vote to stop (a signal, early stopping) rides in the last
/// bucket of the step's all-reduce, and every rank reads the same tally after the step.
public final class DataParallel {
    public let group: ProcessGroup
    /// The parameters whose gradients are averaged, in the caller's order.
    public let parameters: [Tensor]
    /// Indices into `parameters`, one array per bucket.
    public let buckets: [[Int]]
    /// The share of ranks that voted to stop in the last step, left where the all-reduce put it.
    private var stopVotes: Tensor?
    /// Runs the buckets' all-reduces, inside the backward pass or after it.
    public let reducer: GradientReducer
    public let overlapWithBackward: Bool
    /// This rank's vote when the all-reduce runs after backward.
    private var pendingVote = false

    /// DistributedDataParallel's default bucket capacity.
    public static let defaultBucketBytes = 25 * 1024 * 1024

    public init(group: ProcessGroup, parameters: [Tensor], bucketBytes: Int = defaultBucketBytes,
                overlapWithBackward: Bool = true) throws {
        self.group = group
        self.parameters = parameters
        buckets = Self.bucket(Array(parameters.indices.reversed()), of: parameters, capacity: bucketBytes)
        self.overlapWithBackward = overlapWithBackward
        reducer = try GradientReducer(group: group, parameters: parameters, buckets: buckets)
    }

    /// Call right before the step's last backward pass, the one from `loss`, on every rank.
    /// - votingToStop: this rank's vote; `stopAgreed` tells after `synchronizeGradients` whether any rank
    ///   voted so.
    public func beforeFinalBackward(of loss: Tensor, votingToStop: Bool) throws {
        if overlapWithBackward {
            try reducer.prepare(for: loss, votingToStop: votingToStop)
        } else {
            pendingVote = votingToStop
        }
    }

    /// Call after that backward pass: every gradient becomes its mean over the ranks.
    public func synchronizeGradients() throws {
        if !overlapWithBackward { try reducer.prepare(for: nil, votingToStop: pendingVote) }
        stopVotes = try reducer.finish()
    }

    /// Groups `indices` (in that order) into runs of one dtype and device of at most `capacity` bytes (a
    /// single larger tensor gets a bucket of its own).
    static func bucket(_ indices: [Int], of tensors: [Tensor], capacity: Int) -> [[Int]] {
        var buckets: [[Int]] = []
        var current: [Int] = []
        var bytes = 0
        for index in indices {
            let tensor = tensors[index]
            let size = tensor.count * tensor.dtype.byteSize
            if let first = current.first,
                tensors[first].dtype != tensor.dtype || tensors[first].device != tensor.device || bytes + size > capacity
            {
                buckets.append(current)
                current = []
                bytes = 0
            }
            current.append(index)
            bytes += size
        }
        if !current.isEmpty { buckets.append(current) }
        return buckets
    }

    /// Gives every rank rank 0's values of `tensors` (parameters and buffers), in place, bucket by bucket.
    /// Call it once before training, on every rank, with the tensors in the same order.
    public func broadcastFromRankZero(_ tensors: [Tensor], bucketBytes: Int = defaultBucketBytes) throws {
        for bucket in Self.bucket(Array(tensors.indices), of: tensors, capacity: bucketBytes) {
            let members = bucket.map { tensors[$0] }
            let flat = withNoGrad { cat(members.map { $0.detach().flatten() }) }
            try group.broadcast(flat, from: 0)
            withNoGrad {
                for (tensor, part) in zip(members, flat.split(sizes: members.map(\.count))) {
                    tensor.copy_(part.view(tensor.shape))
                }
            }
        }
    }

    /// Whether some rank voted to stop in the last step (false before the first). Reads one
    /// value from the device: the same answer on every rank.
    public var stopAgreed: Bool {
        guard let stopVotes else { return false }
        return stopVotes.to(.float64).toArray(Double.self)[0] > 0
    }
}
