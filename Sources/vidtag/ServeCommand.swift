import ArgumentParser
import Dispatch
import Foundation
import Logging
import Torch
import VidTagServer
import VidTagTraining

/// `vidtag serve`: a trained model behind HTTP with dynamic batching.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over HTTP: POST /v1/classify, GET /healthz, /metrics, /openapi.json.",
        discussion: """
            Requests from many connections are gathered into one forward pass of up to --max-batch videos,
            or after --max-delay-ms, whichever comes first. SIGTERM or SIGINT stops accepting connections,
            answers what is queued, then exits. See docs/serving.md.
            """)

    @Option(help: "Model or run folder.") var model: String
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "TCP port (0: any free port, printed at start).") var port = 8080
    @Option(help: "Most videos in one forward pass.") var maxBatch = 16
    @Option(help: "Longest wait, in milliseconds, for a batch to fill.") var maxDelayMs = 5.0
    @Option(help: "Categories listed per video unless a request asks for fewer (top_k).") var topK = 5
    @Option(help: "cpu or cuda[:n].") var device = "cpu"
    @Option(help: "Inference precision: fp32, bf16 or fp16 (autocast).") var dtype = "fp32"
    @Option(help: "Model name in answers (default: the folder's name).") var modelName: String?
    @Option(help: "Model version in answers (default: the weights file's modification time).") var modelVersion: String?
    @Option(help: "Largest request body, in bytes.") var maxBodyBytes = ServeLimits().maxBodyBytes
    @Option(help: "Most videos in one request.") var maxVideos = ServeLimits().maxVideos
    @Option(help: "Most frames per video.") var maxFrames = ServeLimits().maxFrames
    @Option(help: "Most pixels (width × height) per JPEG frame.") var maxPixels = ServeLimits().maxPixels
    @Option(help: "Most UTF-8 bytes of a title, an ASR text, or a video's OCR texts together.")
    var maxTextBytes = ServeLimits().maxTextBytes
    @Option(help: "Most videos waiting for the model; beyond it requests get 503 with Retry-After.")
    var maxQueue = ServeLimits().maxQueuedVideos
    @Option(help: "Seconds a request may wait in the queue before it gets 504.") var timeout = 30.0

    func run() throws {
        try Runtime.checkVersion()
        guard let type = DType(name: dtype), [.float32, .bfloat16, .float16].contains(type) else {
            throw ValidationError("--dtype \(dtype): expected fp32, bf16 or fp16")
        }
        guard maxBatch >= 1 else { throw ValidationError("--max-batch \(maxBatch): expected 1 or more") }
        guard maxDelayMs >= 0, timeout > 0 else { throw ValidationError("--max-delay-ms and --timeout must not be negative") }
        let folder = URL(fileURLWithPath: model)
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json").path) else {
            throw ValidationError("\(model) is not a model folder (no config.json); train one with `vidtag train --out DIR`")
        }
        let limits = ServeLimits(maxBodyBytes: maxBodyBytes, maxVideos: maxVideos, maxFrames: maxFrames, maxPixels: maxPixels,
                                 maxTextBytes: maxTextBytes, maxQueuedVideos: maxQueue,
                                 requestTimeout: .milliseconds(Int64(timeout * 1000)))
        let settings = ServeSettings(host: host, port: port, maxBatch: maxBatch,
                                     maxDelay: .microseconds(Int64(maxDelayMs * 1000)), topK: topK,
                                     device: try Device(parsing: device, setting: "--device"), dtype: type == .float32 ? nil : type,
                                     limits: limits)
        let server = ClassifierServer(model: folder, settings: settings, modelName: modelName, modelVersion: modelVersion)
        let application = server.application { channel in
            let address = channel.localAddress.map { "\($0.ipAddress ?? host):\($0.port ?? port)" } ?? "\(host):\(port)"
            print("vidtag serve: listening on http://\(address) (model \(folder.path); ready when GET /healthz answers 200)")
        }
        try Self.blocking { try await server.serviceGroup(application).run() }
        print("vidtag serve: stopped")
    }

    /// Runs `body` to completion from this synchronous command.
    private static func blocking(_ body: @escaping @Sendable () async throws -> Void) throws {
        let outcome = OutcomeBox()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { try await body() } catch { outcome.error = error }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw error }
    }
}

private final class OutcomeBox: @unchecked Sendable {
    var error: (any Error)?
}
