import Torch

/// This process's place in a data-parallel run (`--nproc`, torchrun, Slurm): the group it trains with
/// (train.batch_size is split between its processes; each evaluates its share of the held-out fold), its rank
/// on its machine (its GPU), and for a rank > 0 — which writes a scratch folder of its own — rank 0's run,
/// whose folds it holds out and whose checkpoint it resumes from when its own does not fit (the world size
/// changed).
public struct DataParallelRank {
    public var group: ProcessGroup
    public var localRank: Int
    public var leader: RunFolder?

    public init(group: ProcessGroup, localRank: Int, leader: RunFolder?) {
        self.group = group
        self.localRank = localRank
        self.leader = leader
    }
}
