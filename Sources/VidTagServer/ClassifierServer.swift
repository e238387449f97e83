import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals
import VidTagData

/// `vidtag serve`: a model folder behind HTTP. Routes:
/// - `GET /`: a self-contained page to classify a video by hand;
/// - `POST /v1/classify`: one video or `{"videos": [...]}` as JSON, or one video as a multipart form (a
///   `video` JSON part and `frames` JPEG file parts) → top-k level-2 / level-1 with probabilities;
/// - `GET /healthz`: 200 once the model is loaded and warmed up, 503 before and while draining;
/// - `GET /metrics`: Prometheus text (requests, errors by kind, batch sizes, queue and latency histograms);
/// - `GET /v1/model`: the served model's name, version, classes and card (training settings, held-out
///   scores, the best evaluation's per-class scores);
/// - `GET /model`: the model card as a page (its curves at `GET /model/curves.svg`);
/// - `GET /openapi.json`: the API as an OpenAPI 3.1 document.
///
/// Requests are prepared (base64, JPEG decoding, tokenizing) on NIO's thread pool, batched by a
/// ``BatchScheduler`` and run by one ``ModelWorker``. The model loads in ``ClassifierService``, so
/// the port answers (503) while it loads.
public struct ClassifierServer: Sendable {
    public let modelFolder: URL
    public let settings: ServeSettings
    public let modelName: String?
    public let modelVersion: String?
    public let state: ServerState
    public let metrics: ServerMetrics
    public let worker: ModelWorker
    public let scheduler: BatchScheduler

    public init(model: URL, settings: ServeSettings, modelName: String? = nil, modelVersion: String? = nil) {
        modelFolder = model
        self.settings = settings
        self.modelName = modelName
        self.modelVersion = modelVersion
        state = ServerState()
        metrics = ServerMetrics(maxBatch: settings.maxBatch)
        worker = ModelWorker()
        scheduler = BatchScheduler(worker: worker, maxBatch: settings.maxBatch, maxDelay: settings.maxDelay,
                                   maxQueuedVideos: settings.limits.maxQueuedVideos, metrics: metrics)
    }

    /// Loads the model, runs one full batch of an empty video through it, and marks the server ready.
    /// Safe to call again (a second call does nothing).
    public func prepare() async throws {
        guard state.model == nil else { return }
        var loaded = try await worker.load(folder: modelFolder, device: settings.device, dtype: settings.dtype,
                                           name: modelName, version: modelVersion)
        let folder = modelFolder
        loaded.card = try await NIOThreadPool.singleton.runIfActive { ModelCard.read(folder: folder) }
        let model = loaded
        state.set(model: model)
        state.set(.warmingUp)
        let sample = try await NIOThreadPool.singleton.runIfActive {
            try model.samples.sample(VideoAnnotation(id: "warm-up", title: "warm up"), frames: .absent)
        }
        _ = try await worker.predict(Array(repeating: sample, count: settings.maxBatch))
        if state.phase == .warmingUp { state.set(.ready) }
    }

    /// The service that prepares the model, then batches until a graceful shutdown has drained the queue.
    public var service: ClassifierService { ClassifierService(server: self) }

    /// The Hummingbird application: the routes, the ``service`` alongside the HTTP server (which a
    /// graceful shutdown stops first, so that requests in flight still get their batches).
    public func application(logger: Logger = Logger(label: "vidtag.serve"),
                            onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in })
        -> some ApplicationProtocol
    {
        Application(
            router: router(),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "vidtag"),
            services: [service], onServerRunning: onServerRunning, logger: logger)
    }

    /// The application and the service that flushes the batch queue at the start of a graceful shutdown,
    /// in one group: on `signals`, batches stop waiting to fill, the HTTP server stops accepting and
    /// finishes the requests in flight, then the queue drains and the model service ends.
    public func serviceGroup(_ application: some ApplicationProtocol, signals: [UnixSignal] = [.sigterm, .sigint],
                             logger: Logger = Logger(label: "vidtag.serve")) -> ServiceGroup {
        ServiceGroup(configuration: .init(
            services: [
                .init(service: application),
                .init(service: FlushOnShutdown(scheduler: scheduler), successTerminationBehavior: .ignore),
            ],
            gracefulShutdownSignals: signals, logger: logger))
    }

    /// The routes, for in-process tests and for ``application(logger:onServerRunning:)``.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ErrorMiddleware(metrics: metrics))
        router.get("/") { _, _ in
            JSONResponse.text(WebPage.html, contentType: "text/html; charset=utf-8")
        }
        router.get("/healthz") { _, _ in
            let phase = state.phase
            let body = ["status": phase.rawValue]
            return JSONResponse.make(body, status: phase == .ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            JSONResponse.text(metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/openapi.json") { _, _ in
            JSONResponse.text(APIDocument.openAPI(limits: settings.limits, topK: settings.topK), contentType: "application/json")
        }
        router.get("/v1/model") { _, _ in
            let model = try state.readyModel()
            return JSONResponse.make(ModelDescription(model))
        }
        router.get("/model") { _, _ in
            JSONResponse.text(ModelCardPage.html, contentType: "text/html; charset=utf-8")
        }
        router.get("/model/curves.svg") { _, _ in
            guard state.model?.card?.hasCurves == true,
                  let svg = try await NIOThreadPool.singleton.runIfActive({ ModelCard.curves(folder: modelFolder) })
            else {
                throw ServeError(.notFound, "the model's run folder has no curves.svg")
            }
            return Response(status: .ok, headers: [.contentType: "image/svg+xml"], body: .init(byteBuffer: ByteBuffer(bytes: svg)))
        }
        router.post("/v1/classify") { request, _ in
            try await classify(request)
        }
        return router
    }

    private func classify(_ request: Request) async throws -> Response {
        let started = ContinuousClock.now
        let model = try state.readyModel()
        let limits = settings.limits
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limits.maxBodyBytes {
            throw ServeError(.bodyTooLarge, "the body has \(length) bytes; at most \(limits.maxBodyBytes)")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limits.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw ServeError(.bodyTooLarge, "the body is larger than \(limits.maxBodyBytes) bytes")
        }
        let contentType = request.headers[.contentType]
        let parsed = try await NIOThreadPool.singleton.runIfActive {
            if let contentType, MultipartForm.isMultipart(contentType: contentType) {
                return try ClassifyRequest.decodeMultipart(Data(body.readableBytesView), contentType: contentType, limits: limits)
            }
            return try ClassifyRequest.decode(Data(body.readableBytesView))
        }
        guard !parsed.videos.isEmpty else { throw ServeError(.invalidField, field: "videos", "the list is empty") }
        guard parsed.videos.count <= limits.maxVideos else {
            throw ServeError(.tooManyVideos, field: "videos", "\(parsed.videos.count) videos; at most \(limits.maxVideos) per request")
        }
        let topK = parsed.topK ?? settings.topK
        guard topK >= 1 else { throw ServeError(.invalidField, field: "top_k", "\(topK); expected 1 or more") }
        let preparation = VideoPreparation(model: model, limits: limits)
        let samples = try await withThrowingTaskGroup(of: (Int, Sample).self) { group in
            for (index, video) in parsed.videos.enumerated() {
                group.addTask {
                    (index, try await NIOThreadPool.singleton.runIfActive {
                        try preparation.sample(of: video, index: index, fields: parsed.fields(index))
                    })
                }
            }
            var samples = [Sample?](repeating: nil, count: parsed.videos.count)
            for try await (index, sample) in group { samples[index] = sample }
            return samples.map { $0! }
        }
        let rows = try await scheduler.submit(samples, deadline: started.advanced(by: limits.requestTimeout))
        metrics.videos(rows.count)
        return JSONResponse.make(ClassifyResponse(model: model, ids: samples.map(\.id), probabilities: rows,
                                                  topK: min(topK, model.labels.level2Count),
                                                  took: ContinuousClock.now - started))
    }
}

/// Prepares the model, then runs the batching loop until a graceful shutdown, which drains the queue.
public struct ClassifierService: Service {
    let server: ClassifierServer

    public func run() async throws {
        try await server.prepare()
        let scheduler = server.scheduler
        let state = server.state
        await withGracefulShutdownHandler {
            await scheduler.run()
        } onGracefulShutdown: {
            state.set(.draining)
            Task { await scheduler.beginDraining() }
        }
        state.set(.stopped)
    }
}

/// Waits for a graceful shutdown, then tells the scheduler to stop waiting for batches to fill. The last
/// service of ``ClassifierServer/serviceGroup(_:signals:logger:)``, so the first to hear of a shutdown.
struct FlushOnShutdown: Service {
    let scheduler: BatchScheduler

    func run() async throws {
        try? await gracefulShutdown()
        await scheduler.flush()
    }
}

/// `GET /v1/model`.
struct ModelDescription: Encodable {
    var name: String
    var version: String
    var architecture: String
    var frames: String
    var featureSize: Int?
    var maxFrames: Int
    var level2Ids: [String]
    var level1Ids: [String]
    var card: ModelCard?

    init(_ model: ServedModel) {
        name = model.name
        version = model.version
        architecture = model.architecture
        frames = model.takesJPEGFrames ? "jpeg" : "features"
        featureSize = model.featureSize
        maxFrames = model.samples.maxFrames
        level2Ids = model.labels.level2Ids
        level1Ids = model.labels.level1Ids
        card = model.card
    }

    enum CodingKeys: String, CodingKey {
        case name, version, architecture, frames, featureSize = "feature_size", maxFrames = "max_frames"
        case level2Ids = "level2_ids", level1Ids = "level1_ids", card
    }
}
