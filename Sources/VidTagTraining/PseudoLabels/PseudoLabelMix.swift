import Foundation
import Torch
import VidTagData

/// What a run takes from `data.pseudo_labels`: the pseudo-labelled videos that join its training batches (the
/// labelled training fold, then the pseudo-labelled split, end to end) and the loss over their soft targets.
/// Checked before anything is written; pseudo-labelled videos are never evaluated on (evaluation reads only
/// the held-out fold of the training split).
///
/// Leakage refused: a run is scored on its held-out fold, so no teacher may have seen those videos' labels
/// and no held-out video may be trained on.
/// 1. A pseudo-labelled id among the run's held-out videos: the run would train on the very videos it is
///    scored on, with targets from a teacher's prediction.
/// 2. Pseudo-labels of the split the run evaluates on (its training split, when it holds a fold out) that did
///    not leave out the teachers' held-out videos (`--out-of-fold` ones, or files that list such videos).
/// 3. A teacher that trained on the run's training split but held out other videos than the run: it trained on
///    (some of) the run's held-out videos, so its soft labels, on any video, carry what it learnt from their
///    true labels into the student — label leakage through the teacher, which inflates the held-out score.
///    Teachers must hold out the same fold of the same `folds.json`; K-fold (out-of-fold) teachers, which
///    together saw every labelled video, suit a student trained on the whole split
///    (`data.validation_fraction=0`) and scored on another split.
struct PseudoLabelMix {
    let loss: SoftTargetLoss
    /// The pseudo-labelled splits' samples in training mode (not the training split's own pseudo-labels, which
    /// act only as distillation targets of its labelled videos), with the pseudo-labelled videos' positions.
    let extras: [(source: SampleBuilder, positions: [Int])]

    /// The mix `config` asks for, nil when `data.pseudo_labels` is empty. It names one folder, or several
    /// separated by commas (one per split: the labelled split's for distillation, the unlabelled split's).
    /// - index, heldOut: the run's training split and the positions it holds out (fold `fold`).
    static func prepare(config: RunConfig, data: DataRoot, index: VideoIndex, heldOut: [Int], fold: Int,
                        labels: LabelSpace, tokenizer: BertTokenizer, frameSource: FrameSource) throws -> PseudoLabelMix? {
        let folders = config.data.pseudoLabels.split(separator: ",").map { URL(fileURLWithPath: $0.trimmingCharacters(in: .whitespaces)) }
        guard !folders.isEmpty else {
            if config.tricks.distillWeight > 0 {
                throw ConfigError("tricks.distill_weight \(config.tricks.distillWeight) needs the teachers' soft labels: "
                    + "set data.pseudo_labels to a folder written by `vidtag pseudo-label`")
            }
            return nil
        }
        let heldOutIds = Set(heldOut.map { index.ids[$0] })
        let fingerprint = PseudoLabelSet.fingerprint(of: heldOutIds)
        var sets: [PseudoLabelSet] = []
        for url in folders {
            let set = try PseudoLabelSet.load(from: url, labels: labels)
            try refuseLeaks(set, url: url, trainSplit: config.data.trainSplit, heldOutIds: heldOutIds, fingerprint: fingerprint,
                            fold: fold)
            if let twice = sets.first(where: { $0.description.split == set.description.split }) {
                throw ConfigError("data.pseudo_labels names two folders of split \(set.description.split) "
                    + "(\(twice.description.dataRoot) and \(url.path)'s): one per split")
            }
            sets.append(set)
        }
        let loss = try SoftTargetLoss(labels: sets, pseudoWeight: config.data.pseudoWeight,
                                      distillWeight: config.tricks.distillWeight, temperature: config.tricks.distillTemperature)
        var extras: [(source: SampleBuilder, positions: [Int])] = []
        for (set, url) in zip(sets, folders) {
            let split = set.description.split
            let own = split == config.data.trainSplit
            if own, config.tricks.distillWeight <= 0 {
                throw ConfigError("data.pseudo_labels \(url.path) labels the training split \(split) itself: such soft "
                    + "labels are distillation targets; set tricks.distill_weight (and tricks.distill_temperature)")
            }
            let source = own ? index : try VideoIndex(
                dataRoot: data, split: split, tokenizer: tokenizer, budgets: config.budgets, labelSpace: nil,
                badRecords: config.data.badRecordPolicy)
            let positions = try positions(of: set, in: source, url: url, data: data)
            guard !own else { continue }
            let builder = try SampleBuilder(dataRoot: data, split: split, index: source, maxFrames: config.data.maxFrames,
                                            frameSource: frameSource, mode: .train(seed: UInt64(config.seed)),
                                            badRecords: config.data.badRecordPolicy)
            extras.append((builder, positions))
        }
        return PseudoLabelMix(loss: loss, extras: extras)
    }

    /// The three refusals of the type's description, in that order.
    static func refuseLeaks(_ set: PseudoLabelSet, url: URL, trainSplit: String, heldOutIds: Set<String>, fingerprint: String,
                            fold: Int) throws {
        let file = url.appendingPathComponent(PseudoLabelSet.descriptionName).path
        let description = set.description
        if let leaked = set.ids.first(where: heldOutIds.contains) {
            let count = set.ids.lazy.filter(heldOutIds.contains).count
            throw PseudoLabelError(
                file: url.appendingPathComponent(PseudoLabelSet.idsName).path, field: nil,
                problem: "\(count) pseudo-labelled videos (first \(leaked)) are in this run's held-out fold \(fold) of split "
                    + "\(trainSplit): the run would train on videos it is scored on",
                hint: "pseudo-label with teachers that held out the same fold (their held-out videos are then left out)")
        }
        guard !heldOutIds.isEmpty else { return }
        if description.split == trainSplit, description.outOfFold || !description.leftOutHeldOut {
            throw PseudoLabelError(
                file: file, field: "split",
                problem: "made on split \(trainSplit), which this run evaluates on (its held-out fold \(fold)), "
                    + (description.outOfFold ? "out of fold: every labelled video has a target, the held-out ones too"
                        : "without leaving out the teachers' held-out videos"),
                hint: "train on it with data.validation_fraction=0 and score on another split, or pseudo-label "
                    + "with teachers that held out this run's fold")
        }
        for teacher in description.teachers where teacher.trainSplit == trainSplit && teacher.heldOutFingerprint != fingerprint {
            let held = teacher.heldOutFold.map {
                "fold \($0) of its folds.json (\(teacher.heldOutVideos) videos, \(teacher.heldOutFingerprint ?? "?"))"
            } ?? "nothing"
            throw PseudoLabelError(
                file: file, field: "teachers",
                problem: "teacher \(teacher.path) trained on split \(trainSplit) holding out \(held), not this run's "
                    + "held-out videos (fold \(fold), \(heldOutIds.count) videos, \(fingerprint)): it trained on videos this "
                    + "run is scored on, so its soft labels leak their true labels into training and inflate the held-out score",
                hint: "use teachers that held out the same fold of the same folds.json, or train with "
                    + "data.validation_fraction=0 and score on another split")
        }
    }

    /// Each pseudo-labelled video's position in its split's index.
    static func positions(of set: PseudoLabelSet, in index: VideoIndex, url: URL, data: DataRoot) throws -> [Int] {
        var positionById: [String: Int] = [:]
        positionById.reserveCapacity(index.count)
        for (position, id) in index.ids.enumerated() { positionById[id] = position }
        return try set.ids.enumerated().map { line, id in
            guard let position = positionById[id] else {
                throw PseudoLabelError(
                    file: url.appendingPathComponent(PseudoLabelSet.idsName).path, field: "line \(line + 1)",
                    problem: "id \(id) is not a video of split \(set.description.split) of \(data.url.path)",
                    hint: "pseudo-labels are made for one data root (theirs: \(set.description.dataRoot))")
            }
            return position
        }
    }

    /// The training source: the training split, then each pseudo-labelled split.
    func source(training: SampleBuilder) throws -> any SampleSource {
        guard !extras.isEmpty else { return training }
        return try ConcatenatedSamples([training] + extras.map(\.source))
    }

    /// The training positions, then the pseudo-labelled videos' (each split placed after the one before).
    func positions(training: [Int], trainingCount: Int) -> [Int] {
        var positions = training
        var start = trainingCount
        for extra in extras {
            positions += extra.positions.map { start + $0 }
            start += extra.source.count
        }
        return positions
    }
}
