import Foundation
import Torch

/// Where a run is in its schedule: enough, with the model, optimizer and RNG state, to resume exactly.
public struct TrainerState: Codable, Sendable, Equatable {
    /// Optimizer steps taken.
    public var step = 0
    /// The epoch in progress and how many of its batches were consumed.
    public var epoch = 0
    public var batchInEpoch = 0
    public var bestScore = -1.0
    public var bestStep = -1
    /// Gradient-scaler state under fp16.
    public var scaler: [String: Double] = [:]
    /// Total steps the schedule was planned for.
    public var totalSteps = 0
    /// Evaluations in a row since the best one (early stopping).
    public var evaluationsWithoutImprovement = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case step, epoch, batchInEpoch = "batch_in_epoch", bestScore = "best_score", bestStep = "best_step", scaler
        case totalSteps = "total_steps", evaluationsWithoutImprovement = "evaluations_without_improvement"
    }

    public init(from decoder: Decoder) throws {
        let keys = try decoder.container(keyedBy: CodingKeys.self)
        step = try keys.decode(Int.self, forKey: .step)
        epoch = try keys.decode(Int.self, forKey: .epoch)
        batchInEpoch = try keys.decode(Int.self, forKey: .batchInEpoch)
        bestScore = try keys.decode(Double.self, forKey: .bestScore)
        bestStep = try keys.decode(Int.self, forKey: .bestStep)
        scaler = try keys.decode([String: Double].self, forKey: .scaler)
        totalSteps = try keys.decode(Int.self, forKey: .totalSteps)
        // Absent in checkpoints written before early stopping existed.
        evaluationsWithoutImprovement = try keys.decodeIfPresent(Int.self, forKey: .evaluationsWithoutImprovement) ?? 0
    }
}

/// A training checkpoint folder: `model.safetensors`, `optimizer.safetensors`, `rng.safetensors`,
/// `tricks.safetensors` and `trainer_state.json`. Written atomically as a whole: the files go into `NAME.partial/`, which then
/// replaces `NAME/` by renames; a crash at any point leaves the previous checkpoint loadable
/// (`NAME/` or, between the two renames, `NAME.previous/`).
public struct Checkpoint {
    public var model: [String: Tensor]
    public var optimizer: [String: Tensor]
    public var rng: [String: Tensor]
    public var state: TrainerState
    /// State of the tricks (EMA averages), `tricks.safetensors`.
    public var extras: [String: Tensor]

    public init(model: [String: Tensor], optimizer: [String: Tensor], rng: [String: Tensor], state: TrainerState,
                extras: [String: Tensor] = [:]) {
        self.model = model
        self.optimizer = optimizer
        self.rng = rng
        self.state = state
        self.extras = extras
    }

    static let stateFile = "trainer_state.json"

    /// Writes the checkpoint to `folder`. `afterEachFile` is a test hook, called with each file's name once it
    /// is written and with `NAME.previous` once the old checkpoint is moved aside (throwing there simulates a
    /// crash between the two renames).
    /// - archive: where the replaced checkpoint goes instead of being deleted (`keep_checkpoints` > 1).
    public func write(to folder: URL, archive: URL? = nil, afterEachFile: (String) throws -> Void = { _ in }) throws {
        let fileManager = FileManager.default
        let partial = URL(fileURLWithPath: folder.path + ".partial")
        let previous = URL(fileURLWithPath: folder.path + ".previous")
        try? fileManager.removeItem(at: partial)
        try fileManager.createDirectory(at: partial, withIntermediateDirectories: true)
        try SafeTensors.save(model, to: partial.appendingPathComponent("model.safetensors"))
        try afterEachFile("model.safetensors")
        try SafeTensors.save(optimizer, to: partial.appendingPathComponent("optimizer.safetensors"))
        try afterEachFile("optimizer.safetensors")
        try SafeTensors.save(rng, to: partial.appendingPathComponent("rng.safetensors"))
        try afterEachFile("rng.safetensors")
        try SafeTensors.save(extras, to: partial.appendingPathComponent("tricks.safetensors"))
        try afterEachFile("tricks.safetensors")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(state), to: partial.appendingPathComponent(Self.stateFile))
        try afterEachFile(Self.stateFile)

        // A `.previous` left by a crash between the renames is the only complete checkpoint while `NAME/` is
        // absent: it goes only once `NAME/` exists again.
        if fileManager.fileExists(atPath: folder.path) {
            try? fileManager.removeItem(at: previous)
            try fileManager.moveItem(at: folder, to: previous)
            try afterEachFile(previous.lastPathComponent)
        }
        try fileManager.moveItem(at: partial, to: folder)
        if let archive, fileManager.fileExists(atPath: previous.path) {
            try fileManager.createDirectory(at: archive.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? fileManager.removeItem(at: archive)
            try fileManager.moveItem(at: previous, to: archive)
        } else {
            try? fileManager.removeItem(at: previous)
        }
    }

    /// Deletes all but the `keeping` newest checkpoints in `archive` (the older ones kept by `write(to:archive:)`).
    public static func prune(archive: URL, keeping: Int) throws {
        let fileManager = FileManager.default
        let names = ((try? fileManager.contentsOfDirectory(atPath: archive.path)) ?? []).filter { !$0.hasPrefix(".") }
        let byStep = names.compactMap { name -> (Int, String)? in
            guard let state = try? JSONDecoder().decode(
                TrainerState.self, from: Data(contentsOf: archive.appendingPathComponent(name).appendingPathComponent(stateFile)))
            else { return nil }
            return (state.step, name)
        }.sorted { $0.0 > $1.0 }
        for (_, name) in byStep.dropFirst(keeping) { try fileManager.removeItem(at: archive.appendingPathComponent(name)) }
    }

    /// The newest complete checkpoint at `folder` (or its `.previous` twin), nil when there is none.
    public static func latest(at folder: URL) -> URL? {
        for candidate in [folder, URL(fileURLWithPath: folder.path + ".previous")] {
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent(stateFile).path) {
                return candidate
            }
        }
        return nil
    }

    /// The trainer state of the checkpoint at `folder` alone (no tensors read).
    public static func readState(from folder: URL) throws -> TrainerState {
        do {
            return try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: folder.appendingPathComponent(stateFile)))
        } catch {
            throw ConfigError("checkpoint \(folder.path): cannot read \(stateFile): \(error)")
        }
    }

    public static func read(from folder: URL) throws -> Checkpoint {
        let state = try readState(from: folder)
        return Checkpoint(
            model: try SafeTensors.load(folder.appendingPathComponent("model.safetensors")),
            optimizer: try SafeTensors.load(folder.appendingPathComponent("optimizer.safetensors")),
            rng: try SafeTensors.load(folder.appendingPathComponent("rng.safetensors")),
            state: state,
            extras: try SafeTensors.load(folder.appendingPathComponent("tricks.safetensors")))
    }
}
