import Torch

/// How `vidtag serve` listens, batches and limits what clients may send.
public struct ServeSettings: Sendable {
    /// The address to bind (loopback by default; `0.0.0.0` to serve other machines).
    public var host: String
    /// The TCP port; 0 picks a free one (reported through `onServerRunning`).
    public var port: Int
    /// The most videos in one forward pass.
    public var maxBatch: Int
    /// How long the first queued video waits for others before its batch runs anyway.
    public var maxDelay: Duration
    /// Answers list this many level-2 classes (and level-1 groups) unless a request asks for fewer.
    public var topK: Int
    /// Where the model runs.
    public var device: Device
    /// Inference precision: nil computes in fp32; bf16 / fp16 compute under autocast.
    public var dtype: DType?
    /// Limits on what one request may ask.
    public var limits: ServeLimits

    public init(host: String = "127.0.0.1", port: Int = 8080, maxBatch: Int = 16, maxDelay: Duration = .milliseconds(5),
                topK: Int = 5, device: Device = .cpu, dtype: DType? = nil,
                limits: ServeLimits = ServeLimits()) {
        self.host = host
        self.port = port
        self.maxBatch = maxBatch
        self.maxDelay = maxDelay
        self.topK = topK
        self.device = device
        self.dtype = dtype
        self.limits = limits
    }
}

/// What one request may hold and how long it may wait. A request beyond a limit gets a 4xx naming
/// the field (413 for the body, 503 with Retry-After for a full queue, 504 past the timeout).
public struct ServeLimits: Sendable {
    /// Request body bytes.
    public var maxBodyBytes: Int
    /// Videos in one request.
    public var maxVideos: Int
    /// Frames (JPEGs or feature rows) per video.
    public var maxFrames: Int
    /// Pixels (width × height) of one JPEG frame, read from its header before decoding.
    public var maxPixels: Int
    /// UTF-8 bytes of a title, an ASR text, or all OCR texts of a video together.
    public var maxTextBytes: Int
    /// Videos waiting for the model, all requests together.
    public var maxQueuedVideos: Int
    /// From arrival to answer; a request still queued after this gets 504.
    public var requestTimeout: Duration

    public init(maxBodyBytes: Int = 32 << 20, maxVideos: Int = 64, maxFrames: Int = 32, maxPixels: Int = 4096 * 4096,
                maxTextBytes: Int = 64 << 10, maxQueuedVideos: Int = 1024, requestTimeout: Duration = .seconds(30)) {
        self.maxBodyBytes = maxBodyBytes
        self.maxVideos = maxVideos
        self.maxFrames = maxFrames
        self.maxPixels = maxPixels
        self.maxTextBytes = maxTextBytes
        self.maxQueuedVideos = maxQueuedVideos
        self.requestTimeout = requestTimeout
    }
}
