import Foundation
import Torch
import VidTagData

/// K models on K stratified folds of the labelled split, each with its own seed (`seed + k`), in
/// `RUN/fold-k/`; their out-of-fold predictions together score the recipe and tune the small-class boost.
public struct KFoldTraining {
    public let config: RunConfig
    public let data: DataRoot
    public let run: RunFolder
    public let folds: Int
    /// Receives what each fold's run reports.
    public var onEvent: (TrainingEvent) -> Void = { _ in }
    /// Asked after every step of every fold; true stops after a checkpoint.
    public var shouldStop: () -> Bool = { false }
    /// The folds this process trains when several train a run's folds side by side (nil: all of them).
    public var share: FoldShare?

    public init(config: RunConfig, data: DataRoot, run: RunFolder, folds: Int) {
        self.config = config
        self.data = data
        self.run = run
        self.folds = folds
    }

    /// Trains the folds not finished yet (a fold with out-of-fold predictions is done), then scores them
    /// together. Nil when a stop was asked for before the last fold finished, or when this process trained its
    /// `share` and other folds are not done yet.
    public func train() throws -> (score: ChallengeScore, outOfFold: Predictions)? {
        guard folds >= 2 else { throw ConfigError("--folds \(folds): K-fold needs at least 2 folds") }
        var members: [Predictions] = []
        var othersPending = false
        for fold in 0..<folds {
            var foldConfig = config
            foldConfig.seed = config.seed + fold
            let foldRun = RunFolder(run.url.appendingPathComponent("fold-\(fold)"))
            if FileManager.default.fileExists(atPath: foldRun.outOfFoldURL.path) {
                members.append(try Predictions.load(foldRun.outOfFoldURL))
                continue
            }
            if let share, !share.includes(fold) {
                othersPending = true
                continue
            }
            onEvent(.foldStarted(fold: fold, of: folds, seed: foldConfig.seed))
            var session = TrainingSession(config: foldConfig, data: data, run: foldRun)
            session.fold = fold
            session.foldCount = folds
            session.foldsURL = run.splitURL
            session.onEvent = onEvent
            session.shouldStop = shouldStop
            session.prepare = { [config, run] _ in
                // The inputs are checked: the K-fold run folder exists from here on.
                try FileManager.default.createDirectory(at: run.url, withIntermediateDirectories: true)
                try AtomicFile.write(Data(try config.jsonText().utf8), to: run.configURL)
            }
            let outcome = try session.train()
            guard let predictions = outcome.predictions else {
                if shouldStop() { return nil }
                throw TrainingError.noTrainingData("fold \(fold) has no held-out videos")
            }
            members.append(predictions)
        }
        if othersPending { return nil }
        let outOfFold = Predictions(ids: members.flatMap(\.ids), probabilities: members.flatMap(\.probabilities),
                                    classes: members[0].classes, truth: members.flatMap(\.truth))
        try outOfFold.save(to: run.outOfFoldURL)
        let score = try outOfFold.score(labelSpace: try LabelSpace(for: data))
        try KFoldManifest(members: (0..<folds).map { "fold-\($0)" }, outOfFoldScore: score.mean).save(in: run.url)
        return (score, outOfFold)
    }
}

/// The folds one of `count` processes trains side by side with the others: fold k when k % count == index.
public struct FoldShare: Sendable, Equatable {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, (0..<count).contains(index) else {
            throw ConfigError("fold share \(index)/\(count): expected INDEX/COUNT with 0 ≤ INDEX < COUNT")
        }
        self.index = index
        self.count = count
    }

    /// `INDEX/COUNT`, as the launcher passes it.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2 else { throw ConfigError("fold share '\(text)': expected INDEX/COUNT, e.g. 0/2") }
        try self.init(index: parts[0], count: parts[1])
    }

    public func includes(_ fold: Int) -> Bool { fold % count == index }
}

/// `ensemble.json` of a K-fold run: its member model folders (relative) and the out-of-fold score.
public struct KFoldManifest: Codable, Sendable {
    public var members: [String]
    public var outOfFoldScore: Double

    enum CodingKeys: String, CodingKey { case members, outOfFoldScore = "out_of_fold_score" }

    public static let fileName = "ensemble.json"

    public func save(in folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: folder.appendingPathComponent(Self.fileName))
    }

    /// The member folders of `folder` when it is a K-fold run, else nil.
    public static func members(of folder: URL) throws -> [URL]? {
        let url = folder.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let manifest = try JSONDecoder().decode(KFoldManifest.self, from: Data(contentsOf: url))
        return manifest.members.map { folder.appendingPathComponent($0) }
    }
}
