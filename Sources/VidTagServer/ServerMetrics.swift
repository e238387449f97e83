import CoreMetrics
import Metrics
import Prometheus

/// The server's metrics, through swift-metrics into a Prometheus registry of its own (so that several
/// servers in one process, as in the tests, never share counts). `/metrics` renders the registry.
public struct ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    /// Videos per forward pass.
    let batchSize: Recorder
    /// From a request's arrival in the queue to its first row entering a batch.
    let queueTime: Timer
    /// One forward pass.
    let forwardTime: Timer
    /// Videos waiting for the model.
    let queuedVideos: Meter

    public init(maxBatch: Int) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        var sizes: [Double] = [1]
        while sizes.last! < Double(maxBatch) { sizes.append(min(sizes.last! * 2, Double(maxBatch))) }
        factory.valueHistogramBuckets = ["vidtag_batch_size": sizes]
        let latency: [Duration] = [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                   .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                   .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30)]
        factory.defaultDurationHistogramBuckets = latency
        self.registry = registry
        self.factory = factory
        batchSize = Recorder(label: "vidtag_batch_size", factory: factory)
        queueTime = Timer(label: "vidtag_queue_seconds", factory: factory)
        forwardTime = Timer(label: "vidtag_forward_seconds", factory: factory)
        queuedVideos = Meter(label: "vidtag_queued_videos", factory: factory)
    }

    /// Counts an answered request by route and status, and times it.
    func request(route: String, status: Int, nanoseconds: Int64) {
        Counter(label: "vidtag_requests_total", dimensions: [("route", route), ("status", String(status))], factory: factory)
            .increment()
        Timer(label: "vidtag_request_seconds", dimensions: [("route", route)], factory: factory)
            .recordNanoseconds(nanoseconds)
    }

    /// Counts a refused or failed request by kind.
    func error(_ kind: ServeErrorKind) {
        Counter(label: "vidtag_errors_total", dimensions: [("kind", kind.rawValue)], factory: factory).increment()
    }

    /// Counts classified videos.
    func videos(_ count: Int) {
        Counter(label: "vidtag_videos_total", factory: factory).increment(by: count)
    }

    /// The Prometheus text exposition of every metric.
    public func render() -> String { registry.emitToString() }
}
