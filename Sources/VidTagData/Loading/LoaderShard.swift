/// One process's share of every epoch's order in data-parallel training, dealt the way torch's
/// DistributedSampler deals it: the order is padded to a multiple of `count` by repeating its start, then
/// rank r takes positions r, r + count, r + 2 count, … With a per-rank batch of B / count, the ranks' k-th
/// batches together are exactly the k-th batch of B of the whole order.
public struct LoaderShard: Sendable, Equatable, Hashable {
    /// This process's rank, in 0..<count.
    public let rank: Int
    /// How many processes share the data.
    public let count: Int

    public init(rank: Int, count: Int) {
        precondition(count >= 1 && (0..<count).contains(rank), "rank \(rank) outside a world of \(count)")
        self.rank = rank
        self.count = count
    }

    /// This rank's share of `order`.
    public func deal<Element>(_ order: [Element]) -> [Element] {
        guard !order.isEmpty else { return [] }
        return stride(from: rank, to: size(of: order.count) * count, by: count).map { order[$0 % order.count] }
    }

    /// How many elements of an order of `total` each rank gets.
    public func size(of total: Int) -> Int { (total + count - 1) / count }
}
