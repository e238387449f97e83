import Foundation
import Torch
import VidTagData
import VidTagModels

/// The training loss of a batch that mixes hard labels with a teacher's soft labels (``PseudoLabelSet``).
///
/// A teacher row's target `t` is its stored top-k distribution sharpened or softened with temperature T and
/// renormalised over the stored classes: t_j = p_j^(1/T) / Σ_i p_i^(1/T), 0 on every class not stored (the
/// top-k truncation: the teachers' mass beyond the k classes is dropped, not spread). Per row of a batch of B:
/// - a labelled video without a teacher row, or with one while distillation is off: the ``Objective``
///   (cross-entropy with class weights, label smoothing and the video head);
/// - a labelled video with a teacher row while `distillWeight` w > 0:
///   (1 − w) · Objective + w · T² · KL(t ‖ softmax(z / T));
/// - a pseudo-labelled video (no hard label): `pseudoWeight` · CE(t, softmax(z)) = −Σ_j t_j log softmax(z)_j
///   (at T = 1); with distillation on, `pseudoWeight` · T² · KL(t ‖ softmax(z / T)).
/// The batch's loss is the mean over its B rows: each group's mean times its share of the rows (the
/// Objective's own mean is class-weighted within its group). Without teacher rows it is the Objective alone.
public final class SoftTargetLoss {
    /// The teachers' soft labels: one set per split (the training split's, other splits').
    public let labels: [PseudoLabelSet]
    public let classes: Int
    public let pseudoWeight: Double
    public let distillWeight: Double
    public let temperature: Double
    private let rowById: [String: (set: Int, row: Int)]
    /// Rows of each kind the training batches have held so far (each batch counted once, whatever the passes).
    public private(set) var seen = SeenRows()
    private var lastBatch: (epoch: Int, index: Int)?

    public struct SeenRows: Sendable, Equatable {
        public var hard = 0
        public var distilled = 0
        public var pseudo = 0
    }

    public convenience init(labels: PseudoLabelSet, pseudoWeight: Double, distillWeight: Double, temperature: Double) throws {
        try self.init(labels: [labels], pseudoWeight: pseudoWeight, distillWeight: distillWeight, temperature: temperature)
    }

    /// - labels: sets of one label space, no video in two of them.
    public init(labels: [PseudoLabelSet], pseudoWeight: Double, distillWeight: Double, temperature: Double) throws {
        guard pseudoWeight >= 0, pseudoWeight.isFinite else {
            throw ConfigError("data.pseudo_weight \(pseudoWeight): expected a finite weight ≥ 0")
        }
        guard (0...1).contains(distillWeight) else { throw ConfigError("tricks.distill_weight \(distillWeight): expected a weight in [0, 1]") }
        guard temperature > 0, temperature.isFinite else {
            throw ConfigError("tricks.distill_temperature \(temperature): expected a finite temperature > 0")
        }
        guard let first = labels.first else { throw ConfigError("soft targets need at least one pseudo-label set") }
        if let other = labels.first(where: { $0.description.level2Ids != first.description.level2Ids }) {
            throw ConfigError("pseudo-labels of split \(other.description.split) use other classes than those of split "
                + "\(first.description.split): one label space for all")
        }
        self.labels = labels
        classes = first.description.classes
        self.pseudoWeight = pseudoWeight
        self.distillWeight = distillWeight
        self.temperature = temperature
        var rows: [String: (set: Int, row: Int)] = [:]
        rows.reserveCapacity(labels.reduce(0) { $0 + $1.count })
        for (set, part) in labels.enumerated() {
            for (row, id) in part.ids.enumerated() {
                if let earlier = rows.updateValue((set, row), forKey: id) {
                    throw ConfigError("video \(id) has pseudo-labels twice (splits \(labels[earlier.set].description.split) "
                        + "and \(part.description.split)): give each split's pseudo-labels once")
                }
            }
        }
        rowById = rows
    }

    /// The batch's loss (see the type's description).
    public func loss(_ output: ClassifierOutput, batch: Batch, objective: Objective, device: Device) -> Tensor {
        var hard: [Int] = []
        var distilled: [Int] = []
        var pseudo: [Int] = []
        for (row, (id, label)) in zip(batch.ids, batch.labels).enumerated() {
            let teacher = rowById[id]
            if label >= 0 {
                if teacher != nil && distillWeight > 0 { distilled.append(row) } else { hard.append(row) }
            } else if teacher != nil {
                pseudo.append(row)
            }
        }
        if lastBatch.map({ $0 != (batch.epoch, batch.index) }) ?? true {
            lastBatch = (batch.epoch, batch.index)
            seen.hard += hard.count
            seen.distilled += distilled.count
            seen.pseudo += pseudo.count
        }
        if hard.count == batch.count { return objective.loss(output, labels: batch.labelTensor(on: device)) }
        let total = Double(batch.count)
        var loss: Tensor?
        func add(_ term: Tensor) { loss = loss.map { $0 + term } ?? term }
        if !hard.isEmpty {
            add(objective.loss(output.rows(hard, device: device), labels: labelTensor(batch, hard, device)) * (Double(hard.count) / total))
        }
        if !distilled.isEmpty {
            let selected = output.rows(distilled, device: device)
            let task = objective.loss(selected, labels: labelTensor(batch, distilled, device))
            let teacher = distillation(selected.logits, ids: distilled.map { batch.ids[$0] }, device: device)
            add((task * (1 - distillWeight) + teacher * distillWeight) * (Double(distilled.count) / total))
        }
        if !pseudo.isEmpty {
            let logits = output.rows(pseudo, device: device).logits
            let ids = pseudo.map { batch.ids[$0] }
            let term = distillWeight > 0 ? distillation(logits, ids: ids, device: device)
                : softCrossEntropy(logits, ids: ids, device: device)
            add(term * (pseudoWeight * Double(pseudo.count) / total))
        }
        return loss ?? output.logits.sum() * 0
    }

    /// Mean over rows of −Σ_j t_j log softmax(z)_j, t the stored distribution renormalised (T = 1).
    func softCrossEntropy(_ logits: Tensor, ids: [String], device: Device) -> Tensor {
        let targets = Tensor(targetRows(ids, temperature: 1), shape: [ids.count, classes]).to(device)
        return -(targets * logits.to(.float32).logSoftmax(dim: -1)).sum(dim: -1).mean()
    }

    /// Mean over rows of T² · KL(t_T ‖ softmax(z / T)).
    func distillation(_ logits: Tensor, ids: [String], device: Device) -> Tensor {
        let targets = Tensor(targetRows(ids, temperature: temperature), shape: [ids.count, classes]).to(device)
        let student = (logits.to(.float32) / temperature).logSoftmax(dim: -1)
        return student.klDiv(targets, reduction: .batchMean) * (temperature * temperature)
    }

    /// Dense `[rows, classes]` targets: each row's stored probabilities to the power 1/T, renormalised.
    func targetRows(_ ids: [String], temperature: Double) -> [Float] {
        var dense = [Float](repeating: 0, count: ids.count * classes)
        for (row, id) in ids.enumerated() {
            let place = rowById[id]!
            let (stored, probabilities) = labels[place.set].row(place.row)
            let powered = probabilities.map { Foundation.pow(Double($0), 1 / temperature) }
            let sum = powered.reduce(0, +)
            for (klass, value) in zip(stored, powered) { dense[row * classes + Int(klass)] += Float(value / sum) }
        }
        return dense
    }

    private func labelTensor(_ batch: Batch, _ rows: [Int], _ device: Device) -> Tensor {
        Tensor(rows.map { Int64(batch.labels[$0]) }, shape: [rows.count]).to(device)
    }
}

extension ClassifierOutput {
    /// The outputs of some rows of the batch.
    func rows(_ rows: [Int], device: Device) -> ClassifierOutput {
        let index = Tensor(rows.map(Int64.init), shape: [rows.count]).to(device)
        var selected = self
        selected.logits = logits.indexSelect(dim: 0, index: index)
        selected.videoLogits = videoLogits?.indexSelect(dim: 0, index: index)
        selected.pooled = pooled.indexSelect(dim: 0, index: index)
        return selected
    }
}
