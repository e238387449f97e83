import Dispatch
import Foundation
import Torch
import VidTagData
import VidTagTraining

/// What the server tells about the model it serves, and what request handling needs of it: the
/// label space, the sample builder (safe to run on any thread) and the kind of frames it takes.
public struct ServedModel: Sendable {
    /// The model folder's name, unless given.
    public var name: String
    /// The version given, else the weights file's modification time (UTC, ISO 8601).
    public var version: String
    /// `single_stream` or `baseline`.
    public var architecture: String
    public var labels: LabelSpace
    public var samples: RecordSampleBuilder
    /// The run's settings, evaluations and per-class scores, read after loading (`GET /v1/model`, `GET /model`).
    var card: ModelCard?
    /// Whether the model reads raw frames (JPEGs) rather than frame features.
    public var takesJPEGFrames: Bool {
        if case .pixels = samples.frameSource { return true }
        return false
    }
    /// Values per frame-feature row, for feature models.
    public var featureSize: Int? {
        if case .features(let dimension) = samples.frameSource { return dimension }
        return nil
    }
}

/// The one owner of the loaded model: every forward pass runs here, one at a time, on a thread of
/// its own (not the event loops, not Swift's cooperative pool, which the model would block).
public actor ModelWorker {
    private let thread: ModelThreadExecutor
    private var predictor: RecordPredictor?

    public init() { thread = ModelThreadExecutor() }

    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    /// Loads the model folder (strictly, as `vidtag predict` does) and describes it.
    public func load(folder: URL, device: Device, dtype: DType?, name: String?, version: String?) throws -> ServedModel {
        let loaded = try RecordPredictor(model: folder, device: device, dtype: dtype)
        predictor = loaded
        let weights = loaded.loaded.folder.weightsURL
        let modified = (try? FileManager.default.attributesOfItem(atPath: weights.path)[.modificationDate] as? Date) ?? nil
        return ServedModel(
            name: name ?? folder.standardizedFileURL.lastPathComponent,
            version: version ?? modified.map { ISO8601DateFormatter().string(from: $0) } ?? "unknown",
            architecture: loaded.loaded.config.modelType.rawValue, labels: loaded.labels, samples: loaded.samples)
    }

    /// `[batch.count][classes]` probabilities in one forward pass.
    public func predict(_ batch: [Sample]) throws -> [[Float]] {
        guard let predictor else { throw ServeError(.notReady, "the model is not loaded yet") }
        let predictions = try predictor.predict(batch)
        let classes = predictions.classes
        return (0..<predictions.count).map { Array(predictions.probabilities[($0 * classes)..<(($0 + 1) * classes)]) }
    }
}

/// A serial executor running its jobs on one dedicated thread (a serial dispatch queue).
final class ModelThreadExecutor: SerialExecutor {
    private let queue = DispatchQueue(label: "vidtag.model", qos: .userInitiated)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }
}
