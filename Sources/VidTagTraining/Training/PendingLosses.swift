import Torch

/// Training losses kept on the device until they are logged. A step only queues its loss (a 0-d tensor)
/// with the rest of its metrics record; every `train.log_every` steps, and before an evaluation or a
/// checkpoint, `flush` reads all queued losses in one host read — the training loop's only sync point —
/// writes their records in step order and stops at the first loss that is not finite.
struct PendingLosses {
    private var queued: [(record: MetricsRecord, loss: Tensor, parts: [String: Tensor])] = []

    var isEmpty: Bool { queued.isEmpty }

    /// Queues a train record whose `loss` value comes from `loss` when flushed, and each named part's value
    /// from its tensor (a pretraining task's loss).
    mutating func append(_ record: MetricsRecord, loss: Tensor, parts: [String: Tensor] = [:]) {
        queued.append((record, loss.detach(), parts.mapValues { $0.detach() }))
    }

    /// Reads the queued losses (one host read), appends their records to `log` in order and returns them
    /// with their losses. Throws `TrainingError.nonFiniteLoss` naming the first step whose loss is not finite; the
    /// records before it are written, it and the later ones are not.
    mutating func flush(to log: MetricsLog) throws -> [MetricsRecord] {
        guard !queued.isEmpty else { return [] }
        defer { queued = [] }
        // The one sync point of the training loop: the device finishes the queued steps here.
        let tensors = queued.flatMap { entry in [entry.loss] + entry.parts.keys.sorted().map { entry.parts[$0]! } }
        let values = stack(tensors.map { $0.to(.float32) }, dim: 0).toArray(Double.self)
        var written: [MetricsRecord] = []
        var next = 0
        for (record, _, parts) in queued {
            let loss = values[next]
            guard loss.isFinite else { throw TrainingError.nonFiniteLoss(step: record.step, loss: loss) }
            var record = record
            record.values["loss"] = loss
            for name in parts.keys.sorted() {
                next += 1
                record.values[name] = values[next]
            }
            next += 1
            try log.append(record)
            written.append(record)
        }
        return written
    }
}
