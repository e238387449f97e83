import VidTagData

/// Gathers the videos of concurrent requests into forward passes of up to `maxBatch` videos: a batch
/// runs as soon as it is full, or when its oldest video has waited `maxDelay`, whichever comes first.
/// Each request gets its own rows back. While draining it takes no new request, runs what is queued
/// without waiting to fill, and then ``run()`` returns.
public actor BatchScheduler {
    public let worker: ModelWorker
    public let maxBatch: Int
    public let maxDelay: Duration
    public let maxQueuedVideos: Int
    let metrics: ServerMetrics

    /// A request's videos; its rows may be spread over several batches.
    private final class Entry {
        let samples: [Sample]
        var taken = 0
        var results: [[Float]?]
        var answered = 0
        var finished = false
        let enqueued: ContinuousClock.Instant
        let deadline: ContinuousClock.Instant
        let continuation: CheckedContinuation<[[Float]], any Error>

        init(samples: [Sample], deadline: ContinuousClock.Instant, continuation: CheckedContinuation<[[Float]], any Error>) {
            self.samples = samples
            results = Array(repeating: nil, count: samples.count)
            enqueued = .now
            self.deadline = deadline
            self.continuation = continuation
        }

        func finish(_ result: Result<[[Float]], any Error>) {
            guard !finished else { return }
            finished = true
            continuation.resume(with: result)
        }
    }

    private var queue: [Entry] = []
    /// Videos queued and not yet taken into a batch.
    public private(set) var queuedVideos = 0
    private var draining = false
    private var flushing = false
    private var waiter: CheckedContinuation<Void, Never>?
    private var waitingForFirst = false
    private var waitGeneration = 0

    init(worker: ModelWorker, maxBatch: Int, maxDelay: Duration, maxQueuedVideos: Int, metrics: ServerMetrics) {
        self.worker = worker
        self.maxBatch = max(1, maxBatch)
        self.maxDelay = maxDelay
        self.maxQueuedVideos = maxQueuedVideos
        self.metrics = metrics
    }

    /// The probabilities of `samples`, in order, once the batches holding them ran. Throws a
    /// ``ServeError`` when the queue is full (`queue_full`), the server drains (`shutting_down`) or the
    /// request is still queued at `deadline` (`timeout`).
    public func submit(_ samples: [Sample], deadline: ContinuousClock.Instant) async throws -> [[Float]] {
        guard !draining else { throw ServeError(.shuttingDown, "the server is shutting down", retryAfterSeconds: 1) }
        guard queuedVideos + samples.count <= maxQueuedVideos else {
            throw ServeError(.queueFull, "\(queuedVideos) videos are waiting (at most \(maxQueuedVideos)); retry later",
                             retryAfterSeconds: 1)
        }
        guard !samples.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            queue.append(Entry(samples: samples, deadline: deadline, continuation: continuation))
            queuedVideos += samples.count
            metrics.queuedVideos.set(queuedVideos)
            if waitingForFirst || queuedVideos >= maxBatch { wake() }
        }
    }

    /// From now on batches run as soon as the model is free, without waiting to fill (the server is
    /// shutting down; requests in flight should not wait `maxDelay`). Requests are still taken.
    public func flush() {
        flushing = true
        wake()
    }

    /// Stops taking requests; what is queued still runs, then ``run()`` returns.
    public func beginDraining() {
        draining = true
        wake()
    }

    /// The batching loop, until drained.
    public func run() async {
        while true {
            guard let oldest = queue.first?.enqueued else {
                if draining { return }
                await wait(until: nil)
                continue
            }
            let fillBy = oldest.advanced(by: maxDelay)
            while queuedVideos < maxBatch && !draining && !flushing && ContinuousClock.now < fillBy {
                await wait(until: fillBy)
            }
            let batch = takeBatch()
            guard !batch.isEmpty else { continue }
            metrics.batchSize.record(batch.count)
            let started = ContinuousClock.now
            do {
                let rows = try await worker.predict(batch.map { $0.entry.samples[$0.row] })
                metrics.forwardTime.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - started))
                for (item, probabilities) in zip(batch, rows) {
                    item.entry.results[item.row] = probabilities
                    item.entry.answered += 1
                    if item.entry.answered == item.entry.samples.count {
                        item.entry.finish(.success(item.entry.results.map { $0! }))
                    }
                }
            } catch {
                let failure = error as? ServeError ?? ServeError(.modelFailed, "the forward pass failed: \(error)")
                for item in batch { item.entry.finish(.failure(failure)) }
            }
        }
    }

    /// Up to `maxBatch` rows from the front of the queue; requests past their deadline before any of
    /// their rows ran are answered with a timeout instead.
    private func takeBatch() -> [(entry: Entry, row: Int)] {
        var batch: [(entry: Entry, row: Int)] = []
        let now = ContinuousClock.now
        while batch.count < maxBatch, let entry = queue.first {
            if entry.taken == 0 && entry.deadline < now {
                queue.removeFirst()
                queuedVideos -= entry.samples.count
                entry.finish(.failure(ServeError(.timeout, "the request waited past its timeout before the model took it")))
                continue
            }
            if entry.taken == 0 { metrics.queueTime.recordNanoseconds(Self.nanoseconds(now - entry.enqueued)) }
            while entry.taken < entry.samples.count {
                if batch.count == maxBatch { break }
                batch.append((entry, entry.taken))
                entry.taken += 1
                queuedVideos -= 1
            }
            if entry.taken == entry.samples.count { queue.removeFirst() }
        }
        metrics.queuedVideos.set(queuedVideos)
        return batch
    }

    private func wait(until deadline: ContinuousClock.Instant?) async {
        waitGeneration += 1
        let generation = waitGeneration
        waitingForFirst = deadline == nil
        let timer = deadline.map { deadline in
            Task { [weak self] in
                try? await Task.sleep(until: deadline, clock: .continuous)
                await self?.wake(generation: generation)
            }
        }
        await withCheckedContinuation { waiter = $0 }
        waitingForFirst = false
        timer?.cancel()
    }

    private func wake(generation: Int? = nil) {
        if let generation, generation != waitGeneration { return }
        waiter?.resume()
        waiter = nil
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
