import Foundation
import Torch
import VidTagData

/// The models a command runs, named the same way everywhere (`evaluate`, `predict`, `tune-boost`): model
/// folders, a K-fold folder standing for its fold models, ensemble weights and averaging, a small-class boost.
public struct ModelSelection {
    /// Model folders, K-fold folders expanded into their members.
    public let members: [URL]
    /// The folders as given (a K-fold folder once).
    public let given: [URL]
    public var weights: [Double]?
    /// How many members each given folder stands for.
    public let memberCounts: [Int]
    public var averaging: Ensemble.Averaging
    public var boost: SmallClassBoost?

    /// - weights: one per member (a K-fold folder counting as its folds), or one per given folder, which its
    ///   members then share equally (what `vidtag tune-weights` writes).
    public init(models: [String], weights: [Double]? = nil, averaging: Ensemble.Averaging = .probabilities,
                boost: URL? = nil) throws {
        guard !models.isEmpty else { throw ConfigError("give at least one --model (a model folder or a K-fold folder)") }
        given = models.map { URL(fileURLWithPath: $0) }
        let groups = try given.map { try KFoldManifest.members(of: $0) ?? [$0] }
        members = groups.flatMap { $0 }
        if let weights, weights.count == given.count, weights.count != members.count {
            self.weights = zip(weights, groups).flatMap { weight, group in
                [Double](repeating: weight / Double(group.count), count: group.count)
            }
        } else if let weights, weights.count != members.count {
            throw ConfigError("--weights has \(weights.count) values for \(members.count) models "
                + "(\(members.map(\.lastPathComponent).joined(separator: ", "))): one per model, a K-fold folder counting "
                + "as its folds, or one per --model (\(given.count))")
        } else {
            self.weights = weights
        }
        memberCounts = groups.map(\.count)
        self.averaging = averaging
        if let boost {
            do {
                self.boost = try JSONDecoder().decode(SmallClassBoost.self, from: Data(contentsOf: boost))
            } catch {
                throw ConfigError("--boost \(boost.path): not a boost.json written by `vidtag tune-boost` (\(error))")
            }
        }
    }

    /// Every member over `split`, each with the data settings it was trained with, combined and boosted.
    /// Members that read videos the same way (`DataRecipe`: a K-fold run's folds) share one pass over the
    /// data; each other recipe reads the split once more.
    /// - Returns: the combined predictions, the label space, and each recipe's annotation report.
    public func predict(data: DataRoot, split: String, device: Device, dtype: DType? = nil, workers: Int = 2,
                        batchSize: Int = 64) throws -> (predictions: Predictions, labels: LabelSpace, reports: [AnnotationReport]) {
        var predictions = [Predictions?](repeating: nil, count: members.count)
        var labels: LabelSpace?
        var reports: [AnnotationReport] = []
        for group in try recipeGroups() {
            let loaded = try group.map { try ModelFolder(members[$0]).load(device: device) }
            for (member, model) in zip(group, loaded) { try Self.check(model.labels, against: &labels, folder: members[member]) }
            let runner = try ModelRunner(models: loaded, device: device, workers: workers, batchSize: batchSize)
            let (each, index) = try runner.predictEach(data: data, split: split, dtype: dtype)
            for (member, result) in zip(group, each) { predictions[member] = result }
            reports.append(index.annotationReport)
        }
        return (try finish(predictions.map { $0! }), labels!, reports)
    }

    /// Member indices grouped by data recipe, groups in order of their first member.
    func recipeGroups() throws -> [[Int]] {
        var recipes: [DataRecipe] = []
        var groups: [[Int]] = []
        for (member, folder) in members.enumerated() {
            let recipe = try DataRecipe(of: ModelFolder(folder))
            if let existing = recipes.firstIndex(of: recipe) {
                groups[existing].append(member)
            } else {
                recipes.append(recipe)
                groups.append([member])
            }
        }
        return groups
    }

    /// The held-out predictions the models were selected on: a model folder's held-out fold, or a K-fold
    /// folder's out-of-fold predictions (each fold model on the fold it did not train on). Several given
    /// folders (kinds may differ: single- and dual-stream, the baseline) must have held out the same videos —
    /// K-fold runs (whatever their folds: each prediction still comes from a model that did not train on the
    /// video), or models with the same held-out fold (`data.folds_seed`); their predictions are then combined
    /// like the ensemble's (each given folder weighing what its members weigh).
    /// Saved predictions (`oof.safetensors`, written by training) are used when present.
    public func predictHeldOut(data: DataRoot, device: Device, workers: Int = 2, batchSize: Int = 64)
        throws -> (predictions: Predictions, labels: LabelSpace)
    {
        let (perFolder, labels) = try heldOutByFolder(data: data, device: device, workers: workers, batchSize: batchSize)
        let combined = perFolder.count == 1
            ? perFolder[0] : try Ensemble.combine(perFolder, weights: folderWeights, averaging: averaging)
        return (boost?.apply(to: combined) ?? combined, labels)
    }

    /// Each given folder's held-out predictions, unboosted, all in one video order (see `predictHeldOut`).
    public func heldOutByFolder(data: DataRoot, device: Device, workers: Int = 2, batchSize: Int = 64)
        throws -> (predictions: [Predictions], labels: LabelSpace)
    {
        var perFolder: [Predictions] = []
        var labels: LabelSpace?
        var offset = 0
        for (folder, count) in zip(given, memberCounts) {
            let group = Array(members[offset..<(offset + count)])
            offset += count
            perFolder.append(try heldOut(of: folder, members: group, data: data, device: device, workers: workers,
                                         batchSize: batchSize, labels: &labels))
        }
        return (try Self.aligned(perFolder, folders: given), labels!)
    }

    /// The weight of each given folder: the sum of its members' weights (nil: equal).
    public var folderWeights: [Double]? {
        weights.map { weights in
            var start = 0
            return memberCounts.map { count in
                defer { start += count }
                return weights[start..<(start + count)].reduce(0, +)
            }
        }
    }

    /// One given folder's held-out predictions: saved by training, or made by its members.
    func heldOut(of folder: URL, members: [URL], data: DataRoot, device: Device, workers: Int, batchSize: Int,
                 labels: inout LabelSpace?) throws -> Predictions {
        var parts: [Predictions] = []
        for member in members {
            try Self.check(try LabelSpace(contentsOf: ModelFolder(member).labelsURL), against: &labels, folder: member)
            let saved = RunFolder(member).outOfFoldURL
            if FileManager.default.fileExists(atPath: saved.path) {
                parts.append(try Predictions.load(saved))
                continue
            }
            let runner = try ModelRunner(model: member, device: device, workers: workers, batchSize: batchSize)
            let split = try RunConfig.load(RunFolder(member).configURL).data.trainSplit
            parts.append(try runner.predict(data: data, split: split, select: try runner.heldOutFold()).0)
        }
        return Predictions(ids: parts.flatMap(\.ids), probabilities: parts.flatMap(\.probabilities),
                           classes: parts[0].classes, truth: parts.flatMap(\.truth))
    }

    /// The folders' held-out predictions in the first's video order; they must cover the same videos.
    static func aligned(_ predictions: [Predictions], folders: [URL]) throws -> [Predictions] {
        guard let first = predictions.first else { return [] }
        let order = Dictionary(uniqueKeysWithValues: first.ids.enumerated().map { ($1, $0) })
        return try zip(predictions, folders).map { member, folder in
            let rows = Dictionary(uniqueKeysWithValues: member.ids.enumerated().map { ($1, $0) })
            guard Set(rows.keys) == Set(order.keys) else {
                let missing = first.ids.first { rows[$0] == nil }
                let extra = member.ids.first { order[$0] == nil }
                throw ConfigError("\(folder.path) held out other videos than \(folders[0].path) (\(member.ids.count) against "
                    + "\(first.ids.count); \(missing.map { "video \($0) is missing" } ?? "video \(extra!) is extra")): "
                    + "held-out predictions combine only when they cover the same videos (K-fold runs, or runs with the "
                    + "same held-out fold: same data.folds_seed and validation_fraction); score such an ensemble on a "
                    + "split with --split (and --truth)")
            }
            let classes = member.classes
            var probabilities = [Float]()
            probabilities.reserveCapacity(member.probabilities.count)
            for id in first.ids {
                let row = rows[id]!
                probabilities += member.probabilities[(row * classes)..<((row + 1) * classes)]
            }
            return Predictions(ids: first.ids, probabilities: probabilities, classes: classes,
                               truth: first.ids.map { member.truth[rows[$0]!] })
        }
    }

    /// Members' predictions of the same videos, combined with the weights and averaging, then boosted.
    public func combine(_ predictions: [Predictions]) throws -> Predictions {
        try finish(predictions)
    }

    func finish(_ predictions: [Predictions]) throws -> Predictions {
        let combined = try Ensemble.combine(predictions, weights: weights, averaging: averaging)
        return boost?.apply(to: combined) ?? combined
    }

    static func check(_ space: LabelSpace, against first: inout LabelSpace?, folder: URL) throws {
        if let first, first.level2Ids != space.level2Ids {
            throw ConfigError("\(folder.path) predicts other classes than the first model: an ensemble needs one label space")
        }
        first = space
    }
}
