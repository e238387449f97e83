import NIOConcurrencyHelpers

/// Where the server is in its life, readable from any request without waiting: `/healthz` answers
/// 200 only in `ready`, after the model loaded and a warm-up pass ran.
public enum ServerPhase: String, Sendable {
    case loading
    case warmingUp = "warming_up"
    case ready
    case draining
    case stopped
}

/// The phase and, once loaded, the model, behind a lock.
public final class ServerState: Sendable {
    private let box = NIOLockedValueBox<(phase: ServerPhase, model: ServedModel?)>((.loading, nil))

    public init() {}

    public var phase: ServerPhase { box.withLockedValue { $0.phase } }
    public var model: ServedModel? { box.withLockedValue { $0.model } }

    func set(_ phase: ServerPhase) { box.withLockedValue { $0.phase = phase } }
    func set(model: ServedModel) { box.withLockedValue { $0.model = model } }

    /// The model when requests may be classified; otherwise the error a client gets.
    func readyModel() throws(ServeError) -> ServedModel {
        let (phase, model) = box.withLockedValue { ($0.phase, $0.model) }
        switch phase {
        case .ready: return model!
        case .loading, .warmingUp: throw ServeError(.notReady, "the model is \(phase.rawValue); retry shortly", retryAfterSeconds: 1)
        case .draining, .stopped: throw ServeError(.shuttingDown, "the server is shutting down", retryAfterSeconds: 1)
        }
    }
}
