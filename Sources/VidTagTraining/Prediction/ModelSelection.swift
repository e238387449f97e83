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
    public var averaging: Ensemble.Averaging
    public var boost: SmallClassBoost?

    public init(models: [String], weights: [Double]? = nil, averaging: Ensemble.Averaging = .probabilities,
                boost: URL? = nil) throws {
        guard !models.isEmpty else { throw ConfigError("give at least one --model (a model folder or a K-fold folder)") }
        given = models.map { URL(fileURLWithPath: $0) }
        members = try given.flatMap { try KFoldManifest.members(of: $0) ?? [$0] }
        if let weights, weights.count != members.count {
            throw ConfigError("--weights has \(weights.count) values for \(members.count) models "
                + "(\(members.map(\.lastPathComponent).joined(separator: ", "))): one per model, a K-fold folder counting as its folds")
        }
        self.weights = weights
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
    /// - Returns: the combined predictions, the label space, and each member's annotation report.
    public func predict(data: DataRoot, split: String, device: Device, dtype: DType? = nil, workers: Int = 2,
                        batchSize: Int = 64) throws -> (predictions: Predictions, labels: LabelSpace, reports: [AnnotationReport]) {
        var predictions: [Predictions] = []
        var labels: LabelSpace?
        var reports: [AnnotationReport] = []
        for folder in members {
            let runner = try ModelRunner(model: folder, device: device, workers: workers, batchSize: batchSize)
            try Self.check(runner.loaded.labels, against: &labels, folder: folder)
            let (member, index) = try runner.predict(data: data, split: split, dtype: dtype)
            predictions.append(member)
            reports.append(index.annotationReport)
        }
        return (try finish(predictions), labels!, reports)
    }

    /// The held-out predictions the models were selected on: a model folder's held-out fold, or a K-fold
    /// folder's out-of-fold predictions (each fold model on the fold it did not train on).
    public func predictHeldOut(data: DataRoot, device: Device, workers: Int = 2, batchSize: Int = 64)
        throws -> (predictions: Predictions, labels: LabelSpace)
    {
        guard given.count == 1 else {
            throw ConfigError("\(given.count) models each held out their own videos: score an ensemble on a split "
                + "with --split (and --truth for an unlabelled one)")
        }
        var parts: [Predictions] = []
        var labels: LabelSpace?
        for folder in members {
            let runner = try ModelRunner(model: folder, device: device, workers: workers, batchSize: batchSize)
            try Self.check(runner.loaded.labels, against: &labels, folder: folder)
            let split = try RunConfig.load(RunFolder(folder).configURL).data.trainSplit
            parts.append(try runner.predict(data: data, split: split, select: try runner.heldOutFold()).0)
        }
        let outOfFold = Predictions(ids: parts.flatMap(\.ids), probabilities: parts.flatMap(\.probabilities),
                                    classes: parts[0].classes, truth: parts.flatMap(\.truth))
        return (boost?.apply(to: outOfFold) ?? outOfFold, labels!)
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
