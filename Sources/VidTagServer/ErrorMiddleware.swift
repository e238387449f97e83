import Foundation
import Hummingbird
import HTTPTypes
import NIOCore

/// Turns every error into a JSON answer (`{"error": {"kind", "field", "message"}}`, Retry-After on
/// 503s) and counts every answer in the metrics by route and status, and errors by kind. Nothing a
/// handler throws reaches the client as a bare 500.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let failure = Self.serveError(error, request: request)
            metrics.error(failure.kind)
            response = Self.response(failure)
        }
        metrics.request(route: context.endpointPath ?? "unmatched", status: response.status.code,
                        nanoseconds: BatchScheduler.nanoseconds(ContinuousClock.now - started))
        return response
    }

    static func serveError(_ error: any Error, request: Request) -> ServeError {
        switch error {
        case let error as ServeError:
            return error
        case is NIOTooManyBytesError:
            return ServeError(.bodyTooLarge, "the body is larger than the server takes")
        case let error as HTTPError where error.status == .notFound:
            return ServeError(.notFound, "no route \(request.method) \(request.uri.path); see GET /openapi.json")
        case let error as any HTTPResponseError:
            return ServeError(error.status.code == 413 ? .bodyTooLarge : .invalidField, "\(error)")
        default:
            return ServeError(.internalError, "\(error)")
        }
    }

    static func response(_ error: ServeError) -> Response {
        let body = ErrorBody(error: .init(kind: error.kind.rawValue, field: error.field, message: error.message))
        var response = JSONResponse.make(body, status: error.kind.status)
        if let seconds = error.retryAfterSeconds { response.headers[HTTPField.Name.retryAfter] = String(seconds) }
        return response
    }
}

/// `{"error": {"kind", "field", "message"}}`.
struct ErrorBody: Encodable {
    struct Detail: Encodable {
        var kind: String
        var field: String?
        var message: String
    }
    var error: Detail
}

/// JSON answers.
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":{"kind":"internal_error","message":"encoding failed"}}"#.utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func text(_ text: String, contentType: String) -> Response {
        Response(status: .ok, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
