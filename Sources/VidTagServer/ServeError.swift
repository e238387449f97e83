import Hummingbird

/// Why a request was refused or failed: the closed set a client can meet, each with its HTTP status.
/// Counted by kind in `/metrics` (`vidtag_errors_total{kind=…}`).
public enum ServeErrorKind: String, Sendable, CaseIterable, Codable {
    case malformedJSON = "malformed_json"
    case malformedMultipart = "malformed_multipart"
    case invalidField = "invalid_field"
    case bodyTooLarge = "body_too_large"
    case tooManyVideos = "too_many_videos"
    case tooManyFrames = "too_many_frames"
    case imageTooLarge = "image_too_large"
    case corruptImage = "corrupt_image"
    case textTooLong = "text_too_long"
    case wrongFrameKind = "wrong_frame_kind"
    case notFound = "not_found"
    case notReady = "not_ready"
    case queueFull = "queue_full"
    case shuttingDown = "shutting_down"
    case timeout = "timeout"
    case modelFailed = "model_failed"
    case internalError = "internal_error"

    public var status: HTTPResponse.Status {
        switch self {
        case .malformedJSON, .malformedMultipart, .invalidField, .tooManyVideos, .tooManyFrames, .imageTooLarge, .corruptImage, .textTooLong,
             .wrongFrameKind: .badRequest
        case .bodyTooLarge: .contentTooLarge
        case .notFound: .notFound
        case .notReady, .queueFull, .shuttingDown: .serviceUnavailable
        case .timeout: .gatewayTimeout
        case .modelFailed, .internalError: .internalServerError
        }
    }
}

/// A refused or failed request: its kind, the field at fault (`videos[2].frames[0]`) when one is, and
/// what was expected. Rendered as `{"error": {"kind": …, "field": …, "message": …}}`.
public struct ServeError: Error, Sendable, CustomStringConvertible {
    public var kind: ServeErrorKind
    public var field: String?
    public var message: String
    /// Seconds a client should wait before retrying (sent as Retry-After with 503s).
    public var retryAfterSeconds: Int?

    public init(_ kind: ServeErrorKind, field: String? = nil, _ message: String, retryAfterSeconds: Int? = nil) {
        self.kind = kind
        self.field = field
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { (field.map { "\($0): " } ?? "") + message }
}
