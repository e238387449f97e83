import Foundation

/// How a ``DataLoader`` batches and prefetches.
public struct LoaderSettings: Sendable, Equatable {
    /// Samples per batch.
    public var batchSize: Int
    /// Shuffle the order every epoch (fixed by `seed` and the epoch); otherwise index order.
    public var shuffle: Bool
    /// Seed of the order.
    public var seed: UInt64
    /// Leave out a last, smaller batch.
    public var dropLast: Bool
    /// Background threads building batches; 0 builds each batch on the consumer's thread when asked.
    public var workers: Int
    /// Most batches built or being built ahead of the consumer: memory stays within this many batches
    /// (plus the one being used), whatever the data size.
    public var queueCapacity: Int
    /// How token rows are padded.
    public var textPadding: BatchPadding
    /// In data-parallel training, this process's share of every epoch's order (nil: all of it).
    public var shard: LoaderShard?

    public init(
        batchSize: Int, shuffle: Bool = true, seed: UInt64 = 0, dropLast: Bool = false, workers: Int = 2,
        queueCapacity: Int = 4, textPadding: BatchPadding = .longest, shard: LoaderShard? = nil
    ) {
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
        self.workers = workers
        self.queueCapacity = queueCapacity
        self.textPadding = textPadding
        self.shard = shard
    }
}

/// A place in the stream of batches: the next batch to deliver. Save it with a checkpoint; starting a
/// stream from it gives exactly the batches the interrupted stream would have given.
public struct LoaderPosition: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public var epoch: Int
    public var batch: Int

    public init(epoch: Int, batch: Int = 0) {
        self.epoch = epoch
        self.batch = batch
    }

    public var description: String { "epoch \(epoch), batch \(batch)" }
}

/// Batches of a ``SampleSource`` (one split, or several end to end), in an order fixed by (seed, epoch),
/// built on background threads.
///
/// ```swift
/// let loader = try DataLoader(builder: builder, settings: LoaderSettings(batchSize: 32))
/// for epoch in 0..<3 {
///     let stream = loader.batches(epoch: epoch)
///     while let batch = try stream.next() { ... }
/// }
/// ```
public final class DataLoader: Sendable {
    public let source: any SampleSource
    public let settings: LoaderSettings
    /// The video positions this loader serves (a fold of the split), in index order.
    public let positions: [Int]

    /// - positions: the subset of the split's videos to serve (all when nil), e.g. the training folds.
    public convenience init(builder: SampleBuilder, settings: LoaderSettings, positions: [Int]? = nil) throws {
        try self.init(source: builder, settings: settings, positions: positions)
    }

    /// - positions: the subset of the source's samples to serve (all when nil).
    public init(source: any SampleSource, settings: LoaderSettings, positions: [Int]? = nil) throws {
        guard settings.batchSize > 0 else { throw SampleError.invalidSetting("batch size \(settings.batchSize) must be at least 1") }
        guard settings.workers >= 0, settings.queueCapacity > 0 else {
            throw SampleError.invalidSetting(
                "workers (\(settings.workers)) must be 0 or more and queue capacity (\(settings.queueCapacity)) at least 1")
        }
        self.source = source
        self.settings = settings
        self.positions = positions ?? Array(0..<source.count)
        if let bad = self.positions.first(where: { !(0..<source.count).contains($0) }) {
            throw SampleError.invalidSetting("position \(bad) is outside the source's 0..<\(source.count) videos")
        }
    }

    /// Batches in one epoch.
    public var batchesPerEpoch: Int {
        let count = settings.shard?.size(of: positions.count) ?? positions.count
        return settings.dropLast ? count / settings.batchSize : (count + settings.batchSize - 1) / settings.batchSize
    }

    /// The video positions of `epoch` in delivery order (this rank's share of them when sharded).
    public func order(epoch: Int) -> [Int] {
        var order = positions
        if settings.shuffle {
            var generator = SeedDerivation.generator(settings.seed, 0x0DE7, UInt64(epoch))
            generator.shuffle(&order)
        }
        return settings.shard?.deal(order) ?? order
    }

    /// Builds batch `batch` of `epoch` on the calling thread: the same batch a stream delivers.
    public func makeBatch(epoch: Int, batch: Int) throws -> Batch {
        try makeBatch(epoch: epoch, batch: batch, order: order(epoch: epoch))
    }

    func makeBatch(epoch: Int, batch: Int, order: [Int]) throws -> Batch {
        let start = batch * settings.batchSize
        let positions = order[start..<min(start + settings.batchSize, order.count)]
        let samples = try positions.map { try source.sample(at: $0, epoch: epoch) }
        return try Batch(collating: samples, textPadding: settings.textPadding, paddingID: source.paddingID,
                         epoch: epoch, index: batch)
    }

    /// The batches of `epoch`.
    public func batches(epoch: Int) -> BatchStream { batches(from: LoaderPosition(epoch: epoch)) }

    /// The rest of an epoch from `position`: the batches an uninterrupted stream gives from there.
    public func batches(from position: LoaderPosition) -> BatchStream {
        BatchStream(loader: self, position: position)
    }
}

/// One epoch's batches from a position, delivered in order while up to ``LoaderSettings/queueCapacity``
/// later batches are built on background threads. A worker's error is thrown by ``next()`` when the
/// consumer reaches that batch (earlier batches are still delivered). Stopping early is safe: ``close()``
/// (or dropping the stream) stops the workers and waits for them to finish.
public final class BatchStream: Sendable {
    private let state: StreamState
    private let loader: DataLoader

    init(loader: DataLoader, position: LoaderPosition) {
        self.loader = loader
        let end = loader.batchesPerEpoch
        let start = min(max(position.batch, 0), end)
        let order = loader.order(epoch: position.epoch)
        state = StreamState(epoch: position.epoch, start: start, end: end, capacity: loader.settings.queueCapacity)
        let workers = min(loader.settings.workers, loader.settings.queueCapacity, max(end - start, 0))
        state.setLiveWorkers(workers)
        for worker in 0..<workers {
            let state = state
            let thread = Thread {
                while let batchIndex = state.claim() {
                    let result = Result { try loader.makeBatch(epoch: position.epoch, batch: batchIndex, order: order) }
                    state.complete(batchIndex, result)
                }
                state.workerExited()
            }
            thread.name = "vidtag-loader-\(worker)"
            thread.start()
        }
        if workers == 0 { state.synchronousOrder = order }
    }

    deinit { state.close() }

    /// The next batch, nil at the end of the epoch (or after ``close()``). Throws the error that building
    /// this batch met; the stream is closed then, and later calls throw it again.
    public func next() throws -> Batch? {
        try state.next { batchIndex, order in
            try loader.makeBatch(epoch: state.epoch, batch: batchIndex, order: order)
        }
    }

    /// Stops the workers and waits until every one has exited. Idempotent.
    public func close() { state.close() }

    /// The next batch to deliver: resume from here to continue exactly.
    public var position: LoaderPosition { state.snapshot { LoaderPosition(epoch: $0.epoch, batch: $0.nextToDeliver) } }
    /// Batches delivered by this stream.
    public var batchesDelivered: Int { state.snapshot { $0.nextToDeliver - $0.start } }
    /// Samples delivered by this stream.
    public var samplesDelivered: Int { state.snapshot { $0.samplesDelivered } }
    /// Batches in the whole epoch.
    public var batchesInEpoch: Int { state.end }
    /// Batches built and waiting for the consumer.
    public var batchesReady: Int { state.snapshot { $0.ready.count } }
    /// Batches whose building has begun (delivered, waiting or in progress).
    public var batchesStarted: Int { state.snapshot { $0.nextToClaim - $0.start } }
    /// Worker threads still running.
    public var liveWorkers: Int { state.snapshot { $0.liveWorkers } }
    /// What the delivered batches met.
    public var report: LoadReport { state.snapshot { $0.report } }
}

/// The shared state of a stream's consumer and workers, guarded by one condition lock.
private final class StreamState: @unchecked Sendable {
    let epoch: Int
    let start: Int
    let end: Int
    let capacity: Int
    private let condition = NSCondition()
    private(set) var nextToClaim: Int
    private(set) var nextToDeliver: Int
    private(set) var ready: [Int: Result<Batch, Error>] = [:]
    private(set) var liveWorkers = 0
    private(set) var samplesDelivered = 0
    private(set) var report = LoadReport()
    private var closed = false
    private var failure: Error?
    /// Set when there are no workers: the consumer builds each batch itself.
    var synchronousOrder: [Int]?

    init(epoch: Int, start: Int, end: Int, capacity: Int) {
        self.epoch = epoch
        self.start = start
        self.end = end
        self.capacity = capacity
        nextToClaim = start
        nextToDeliver = start
    }

    func snapshot<Value>(_ body: (StreamState) -> Value) -> Value {
        condition.lock()
        defer { condition.unlock() }
        return body(self)
    }

    func setLiveWorkers(_ count: Int) { snapshot { $0.liveWorkers = count } }

    /// The next batch index for a worker to build, waiting while the queue is full; nil to exit.
    func claim() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !closed && nextToClaim < end && nextToClaim >= nextToDeliver + capacity { condition.wait() }
        guard !closed, nextToClaim < end else { return nil }
        defer { nextToClaim += 1 }
        return nextToClaim
    }

    func complete(_ batchIndex: Int, _ result: Result<Batch, Error>) {
        condition.lock()
        if !closed { ready[batchIndex] = result }
        condition.broadcast()
        condition.unlock()
    }

    func workerExited() {
        condition.lock()
        liveWorkers -= 1
        condition.broadcast()
        condition.unlock()
    }

    func next(buildSynchronously: (Int, [Int]) throws -> Batch) throws -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
        guard !closed, nextToDeliver < end else { return nil }
        let result: Result<Batch, Error>
        if let order = synchronousOrder {
            result = Result { try buildSynchronously(nextToDeliver, order) }
            nextToClaim = nextToDeliver + 1
        } else {
            while ready[nextToDeliver] == nil && !closed { condition.wait() }
            guard let waiting = ready.removeValue(forKey: nextToDeliver) else { return nil }
            result = waiting
        }
        switch result {
        case .success(let batch):
            nextToDeliver += 1
            samplesDelivered += batch.count
            report.merge(batch.report)
            condition.broadcast()
            return batch
        case .failure(let error):
            failure = error
            closeLocked()
            throw error
        }
    }

    func close() {
        condition.lock()
        closeLocked()
        condition.unlock()
    }

    /// Marks the stream closed, drops waiting batches and waits for the workers; the lock is held.
    private func closeLocked() {
        closed = true
        ready.removeAll()
        condition.broadcast()
        while liveWorkers > 0 { condition.wait() }
    }
}
