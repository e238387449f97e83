import Torch

/// Training losses kept on the device until they are logged. A step only queues its loss (a 0-d tensor)
/// with the rest of its metrics record; every `train.log_every` steps, and before an evaluation or a
/// checkpoint, `flush` reads all queued losses in one host read — the training loop's only sync point —
/// writes their records in step order and stops at the first loss that is not finite.
struct PendingLosses {
    private var queued: [(record: MetricsRecord, loss: Tensor)] = []

    var isEmpty: Bool { queued.isEmpty }

    /// Queues a train record whose `loss` value comes from `loss` when flushed.
    mutating func append(_ record: MetricsRecord, loss: Tensor) {
        queued.append((record, loss.detach()))
    }

    /// Reads the queued losses (one host read), appends their records to `log` in order and returns them
    /// with their losses. Throws `TrainingError.nonFiniteLoss` naming the first step whose loss is not finite; the
    /// records before it are written, it and the later ones are not.
    mutating func flush(to log: MetricsLog) throws -> [MetricsRecord] {
        guard !queued.isEmpty else { return [] }
        defer { queued = [] }
        // The one sync point of the training loop: the device finishes the queued steps here.
        let losses = stack(queued.map { $0.loss.to(.float32) }, dim: 0).toArray(Double.self)
        var written: [MetricsRecord] = []
        for ((record, _), loss) in zip(queued, losses) {
            guard loss.isFinite else { throw TrainingError.nonFiniteLoss(step: record.step, loss: loss) }
            var record = record
            record.values["loss"] = loss
            try log.append(record)
            written.append(record)
        }
        return written
    }
}
