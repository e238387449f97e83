import Foundation
import Torch
import VidTagData
import VidTagModels
import ZIPFoundation

/// The two-stage route: a frame encoder turns every video's JPEG frames (`zip_frames`) into one vector per
/// frame, written as the challenge's `zip_feats/{split}.zip` (member `{id}.npy`, float16 `[n, D]`), which
/// the feature models then train on. Resumable: each video's array is first written to
/// `zip_feats/.{split}.partial/`, so a rerun skips the videos already done; the zip is packed at the end.
public struct FeatureExtraction {
    public let encoder: any FrameEncoder
    public let preprocessing: FramePreprocessing
    public let device: Device
    /// Frames per forward pass.
    public let batchFrames: Int
    /// Frames kept per video (even stride over longer videos).
    public let maxFrames: Int
    /// Autocast dtype of the encoder (bf16 / fp16), nil for fp32.
    public let autocast: DType?

    public init(encoder: any FrameEncoder, preprocessing: FramePreprocessing, device: Device, batchFrames: Int = 64,
                maxFrames: Int = 32, autocast: DType? = nil) {
        self.encoder = encoder
        self.preprocessing = preprocessing
        self.device = device
        self.batchFrames = batchFrames
        self.maxFrames = maxFrames
        self.autocast = autocast
    }

    public struct Summary: Sendable {
        public var videos = 0
        public var skippedAlreadyDone = 0
        public var frames = 0
        public var emptyVideos = 0
        public var report = FrameReadReport(issueLimit: 20)
        public var decodeSeconds = 0.0
        public var encodeSeconds = 0.0
        public var output: URL?
    }

    /// Encodes the videos of `split` not encoded yet. `progress(done, total)` is called after each batch;
    /// `shouldStop` after each batch too: true leaves the finished videos in the partial folder (a rerun
    /// continues from them) and returns a summary with `output` nil.
    public func run(data: DataRoot, split: String, progress: (Int, Int) -> Void = { _, _ in },
                    shouldStop: () -> Bool = { false }) throws -> Summary {
        var ids: [String] = []
        _ = try AnnotationReader(url: try data.annotationsURL(split: split), labelSpace: nil, policy: .skip).forEach {
            ids.append($0.id)
        }
        let framesFolder: URL
        do {
            framesFolder = try data.framesFolderURL(split: split)
        } catch {
            guard split.hasPrefix("test_"), let folder = try? data.framesFolderURL(split: "test") else { throw error }
            framesFolder = folder
        }
        let reader = VideoFrameReader(framesDirectory: framesFolder, maxFrames: maxFrames, preprocessing: preprocessing)
        let featuresFolder = data.url.appendingPathComponent("zip_feats")
        let partial = featuresFolder.appendingPathComponent(".\(split).partial")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)

        var summary = Summary()
        var pending = ids.filter { !FileManager.default.fileExists(atPath: partial.appendingPathComponent("\($0).npy").path) }
        summary.skippedAlreadyDone = ids.count - pending.count
        let videosPerBatch = max(1, batchFrames / maxFrames)
        while !pending.isEmpty {
            let chunk = Array(pending.prefix(videosPerBatch))
            pending.removeFirst(chunk.count)
            let decodeStart = Date()
            let clips = decode(chunk, reader: reader)
            summary.decodeSeconds += Date().timeIntervalSince(decodeStart)
            let encodeStart = Date()
            let vectors = try encode(clips)
            summary.encodeSeconds += Date().timeIntervalSince(encodeStart)
            for (clip, rows) in zip(clips, vectors) {
                summary.report.record(clip)
                let count = rows.count / max(encoder.outputSize, 1)
                if count == 0 { summary.emptyVideos += 1 }
                summary.frames += count
                let npy = Npy.encode(values: rows, shape: [count, encoder.outputSize], dtype: .float16)
                try npy.write(to: partial.appendingPathComponent("\(clip.videoID).npy"), options: .atomic)
            }
            summary.videos += chunk.count
            progress(summary.videos + summary.skippedAlreadyDone, ids.count)
            if shouldStop(), !pending.isEmpty { return summary }
        }
        summary.output = try pack(ids: ids, from: partial, into: featuresFolder.appendingPathComponent("\(split).zip"))
        try FileManager.default.removeItem(at: partial)
        return summary
    }

    /// Decodes clips on all cores.
    func decode(_ ids: [String], reader: VideoFrameReader) -> [VideoClip] {
        let slots = ClipSlots(count: ids.count)
        DispatchQueue.concurrentPerform(iterations: ids.count) { index in
            slots.set(index, reader.evaluationClip(videoID: ids[index]))
        }
        return slots.clips
    }

    /// The real frames of every clip through the encoder → per clip `[n · D]` Floats.
    func encode(_ clips: [VideoClip]) throws -> [[Float]] {
        let frameValues = preprocessing.valuesPerFrame
        var pixels: [Float] = []
        var counts: [Int] = []
        for clip in clips {
            let real = Int(clip.mask.reduce(0, +))
            counts.append(real)
            pixels += clip.frames.prefix(real * frameValues)
        }
        let total = counts.reduce(0, +)
        guard total > 0 else { return clips.map { _ in [] } }
        let encoded: [Float] = try Torch.catching {
            try withNoGrad {
                let batch = Tensor(pixels, shape: [total, 3, preprocessing.cropHeight, preprocessing.cropWidth]).to(device)
                let vectors = withAutocast(device, dtype: autocast ?? .bfloat16, enabled: autocast != nil) {
                    encoder.encodeFrames(batch, train: false)
                }
                return vectors.to(.float32).toArray(Float.self)
            }
        }
        var result: [[Float]] = []
        var offset = 0
        for count in counts {
            let size = count * encoder.outputSize
            result.append(Array(encoded[offset..<(offset + size)]))
            offset += size
        }
        return result
    }

    /// Packs the per-video arrays into the challenge's zip (stored members, ZIP64 when needed), atomically.
    func pack(ids: [String], from folder: URL, into url: URL) throws -> URL {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
        try? FileManager.default.removeItem(at: temporary)
        let archive = try Archive(url: temporary, accessMode: .create)
        for id in ids {
            try archive.addEntry(with: "\(id).npy", relativeTo: folder, compressionMethod: .none)
        }
        try? FileManager.default.removeItem(at: url)
        try FileManager.default.moveItem(at: temporary, to: url)
        return url
    }
}

/// Clips decoded by several threads, each writing its own slot.
private final class ClipSlots: @unchecked Sendable {
    private var slots: [VideoClip?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ clip: VideoClip) {
        lock.lock()
        slots[index] = clip
        lock.unlock()
    }

    var clips: [VideoClip] { slots.map { $0! } }
}
