import Foundation
import Torch
import VidTagData

/// `vidtag pseudo-label`: a model or an ensemble over a split to soft labels (``PseudoLabelSet``).
///
/// Memory stays bounded on a million videos: each teacher holds its split's index (compact token ids) and its
/// model; videos are predicted `chunkSize` at a time, every teacher over the same chunk, combined with the
/// ensemble code (``ModelSelection/combine(_:)``: weights, averaging, boost), and only the top-k of each row
/// are kept. The filter runs once every video is predicted.
///
/// On a split a teacher trained on, the videos any teacher held out are left out (a run that holds out the same
/// fold can then train on the rest), unless `outOfFold`: then each video is predicted by the one teacher (a
/// K-fold folder's fold model) that held it out, which is the honest target for distillation on labelled
/// videos (a teacher's predictions on its own training videos are over-confident).
public struct PseudoLabelling {
    public var selection: ModelSelection
    public var data: DataRoot
    public var split: String
    public var topK: Int
    public var filter: PseudoLabelFilter
    public var outOfFold: Bool
    public var device: Device
    public var dtype: DType?
    public var workers: Int
    public var batchSize: Int
    /// Videos predicted at a time by every teacher.
    public var chunkSize = 16_384
    /// Called after each chunk with (videos done, videos to do).
    public var onProgress: (Int, Int) -> Void = { _, _ in }

    public init(selection: ModelSelection, data: DataRoot, split: String, topK: Int = 5, filter: PseudoLabelFilter,
                outOfFold: Bool = false, device: Device = .cpu, dtype: DType? = nil, workers: Int = 2, batchSize: Int = 64) throws {
        guard topK >= 1 else { throw ConfigError("--top-k \(topK): expected 1 or more") }
        self.selection = selection
        self.data = data
        self.split = split
        self.topK = topK
        self.filter = filter
        self.outOfFold = outOfFold
        self.device = device
        self.dtype = dtype
        self.workers = workers
        self.batchSize = batchSize
    }

    /// Predicts, keeps the top-k, filters. Writes nothing.
    public func run() throws -> PseudoLabelSet {
        let teachers = try selection.members.map(Self.teacher)
        let rows: TopK
        let labels: LabelSpace
        var leftOut = false
        if outOfFold {
            guard teachers.allSatisfy({ $0.trainSplit == split && $0.heldOutFold != nil }) else {
                throw ConfigError("--out-of-fold predicts each video of --split \(split) with the teacher that held it out: "
                    + "give one K-fold folder whose fold models trained on \(split) (vidtag train --folds K)")
            }
            let predicted = try selection.predictHeldOut(data: data, device: device, workers: workers, batchSize: batchSize)
            labels = predicted.labels
            rows = try TopK(predicted.predictions, k: topK)
        } else {
            let runners = try selection.members.map {
                try ModelRunner(model: $0, device: device, workers: workers, batchSize: batchSize)
            }
            for (runner, folder) in zip(runners, selection.members) where runner.loaded.labels.level2Ids != runners[0].loaded.labels.level2Ids {
                throw ConfigError("\(folder.path) predicts other classes than the first model: an ensemble needs one label space")
            }
            labels = runners[0].loaded.labels
            let readers = try runners.map { try $0.splitReader(data: data, split: split) }
            for (reader, folder) in zip(readers, selection.members) where reader.index.ids != readers[0].index.ids {
                throw ConfigError("\(folder.path) reads other videos of split \(split) than the first model (other bad records skipped)")
            }
            let index = readers[0].index
            var excluded = Set<String>()
            for teacher in teachers where teacher.trainSplit == split { excluded.formUnion(teacher.heldOutIds) }
            leftOut = teachers.contains { $0.trainSplit == split }
            let positions = (0..<index.count).filter { !excluded.contains(index.ids[$0]) }
            excluded = []
            var collected = TopK(k: topK)
            var start = 0
            while start < positions.count {
                let chunk = Array(positions[start..<min(start + chunkSize, positions.count)])
                let members = try zip(runners, readers).map { runner, reader in
                    try runner.predict(reader, positions: chunk, dtype: dtype)
                }
                try collected.append(try selection.combine(members))
                start += chunk.count
                onProgress(start, positions.count)
            }
            rows = collected
        }
        let kept = filter.keptRows(topProbabilities: rows.topProbabilities, topClasses: rows.topClasses)
        var classes: [Int32] = []
        var probabilities: [Float] = []
        classes.reserveCapacity(kept.count * topK)
        probabilities.reserveCapacity(kept.count * topK)
        for row in kept {
            classes += rows.classes[(row * topK)..<((row + 1) * topK)]
            probabilities += rows.probabilities[(row * topK)..<((row + 1) * topK)]
        }
        let description = PseudoLabelDescription(
            split: split, dataRoot: data.url.path, classes: labels.level2Count, level2Ids: labels.level2Ids, topK: topK,
            filter: filter, averaging: selection.averaging.rawValue, weights: selection.weights,
            teachers: teachers.map(\.description), outOfFold: outOfFold, leftOutHeldOut: leftOut,
            videosPredicted: rows.count, videosKept: kept.count)
        return PseudoLabelSet(description: description, ids: kept.map { rows.ids[$0] }, classes: classes,
                              probabilities: probabilities)
    }

    /// What a teacher trained on: its run's training split, the fold it held out and those videos' ids.
    struct Teacher {
        var description: PseudoLabelDescription.Teacher
        var heldOutIds: [String]
        var trainSplit: String { description.trainSplit }
        var heldOutFold: Int? { description.heldOutFold }
    }

    static func teacher(_ folder: URL) throws -> Teacher {
        let run = RunFolder(folder)
        guard FileManager.default.fileExists(atPath: run.configURL.path) else {
            throw ConfigError("\(folder.path) has no \(run.configURL.lastPathComponent): a teacher must be a run folder, "
                + "which records the split it trained on and the fold it held out (needed to refuse leaking pseudo-labels)")
        }
        let trainSplit = try RunConfig.load(run.configURL).data.trainSplit
        let settings = try JSONDecoder().decode(ModelDataSettings.self, from: Data(contentsOf: ModelFolder(folder).dataSettingsURL))
        var heldOut: [String] = []
        if let fold = settings.heldOutFold {
            heldOut = try HeldOutFolds.ids(in: run.splitURL, fold: fold)
        }
        return Teacher(description: .init(path: folder.standardizedFileURL.path, trainSplit: trainSplit, heldOutFold: settings.heldOutFold,
                                          heldOutVideos: heldOut.count,
                                          heldOutFingerprint: settings.heldOutFold == nil ? nil : PseudoLabelSet.fingerprint(of: heldOut)),
                       heldOutIds: heldOut)
    }
}

/// The ids of one fold of a `folds.json`, read without the data set (the file's own checks are
/// ``FoldAssignment/read(from:expectedIds:)``'s, made when the run trained).
enum HeldOutFolds {
    private struct File: Decodable { var folds: [[String]] }

    static func ids(in url: URL, fold: Int) throws -> [String] {
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url)) } catch {
            throw ConfigError("\(url.path): cannot read the run's folds (\(error)); the teacher's held-out fold is needed")
        }
        guard file.folds.indices.contains(fold) else {
            throw ConfigError("\(url.path) has \(file.folds.count) folds, but the model held out fold \(fold)")
        }
        return file.folds[fold]
    }
}

/// The top-k classes and probabilities of many predictions, row by row.
struct TopK {
    let k: Int
    var ids: [String] = []
    var classes: [Int32] = []
    var probabilities: [Float] = []

    init(k: Int) { self.k = k }

    init(_ predictions: Predictions, k: Int) throws {
        self.init(k: k)
        try append(predictions)
    }

    var count: Int { ids.count }
    var topProbabilities: [Float] { stride(from: 0, to: probabilities.count, by: k).map { probabilities[$0] } }
    var topClasses: [Int32] { stride(from: 0, to: classes.count, by: k).map { classes[$0] } }

    mutating func append(_ predictions: Predictions) throws {
        guard predictions.count > 0 else { return }
        guard k <= predictions.classes else {
            throw ConfigError("--top-k \(k) is more than the models' \(predictions.classes) classes")
        }
        let (values, indices) = try Torch.catching {
            Tensor(predictions.probabilities, shape: [predictions.count, predictions.classes]).topk(k, dim: -1)
        }
        ids += predictions.ids
        probabilities += values.toArray(Float.self)
        classes += indices.to(.int32).toArray(Int32.self)
    }
}
