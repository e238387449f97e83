import ArgumentParser
import Foundation
import VidTagData

/// `vidtag-bench loader`: samples per second from the `DataLoader` over a demo data root, with features
/// (`zip_feats`) or raw frames (`zip_frames`, resize + centre crop + normalise). Time covers the whole
/// job a training epoch pays: reading and tokenizing the annotations (the index) and every batch.
/// bench/loader.sh runs it against bench/python/loader_bench.py.
struct LoaderBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loader", abstract: "Samples per second from the batch loader (see bench/loader.sh).")

    @Option(help: "Data root (vidtag make-demo --out).")
    var data: String

    @Option(help: "Split to read.")
    var split: String = "labeled"

    @Option(help: "features or frames.")
    var source: String = "features"

    @Option(help: "BERT vocab.txt.")
    var vocab: String

    @Option(help: "Worker threads.")
    var threads: Int = 2

    @Option(help: "Samples per batch.")
    var batchSize: Int = 32

    @Option(help: "Frames per sample (max_frames).")
    var maxFrames: Int = 8

    @Option(help: "Frame side after resize and centre crop (frames only).")
    var size: Int = 224

    @Option(help: "Width of a frame feature vector (features only; 32 for `vidtag make-scale-data` roots).")
    var featureSize: Int = 768

    /// This process's resident memory now (VmRSS of /proc/self/status), in bytes.
    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kib * 1024
    }

    func run() throws {
        let start = Date()
        let tokenizer = try BertTokenizer(vocabulary: try Vocabulary(contentsOf: vocab))
        let frameSource: FrameSource
        switch source {
        case "features": frameSource = .features(dimension: featureSize)
        case "frames": frameSource = .pixels(.clip(size: size))
        default: throw ValidationError("--source must be features or frames, not \(source)")
        }
        let root = DataRoot(path: data)
        let residentBefore = Self.residentBytes()
        let index = try VideoIndex(dataRoot: root, split: split, tokenizer: tokenizer, labelSpace: .wechat2022)
        let indexSeconds = Date().timeIntervalSince(start)
        let residentAfter = Self.residentBytes()
        print("index: \(index.count) videos, \(index.tokenCount) token ids of \(index.tokenWidth) bytes; resident memory "
              + "\(residentBefore / 1_048_576) MiB before, \(residentAfter / 1_048_576) MiB after "
              + "(\(index.count > 0 ? (residentAfter - residentBefore) / index.count : 0) bytes per video)")
        let builder = try SampleBuilder(dataRoot: root, split: split, index: index, maxFrames: maxFrames,
                                        frameSource: frameSource, mode: .evaluate)
        let loader = try DataLoader(builder: builder, settings: LoaderSettings(
            batchSize: batchSize, shuffle: true, seed: 0, workers: threads, queueCapacity: 2 * threads))
        let stream = loader.batches(epoch: 0)
        var checksum = 0.0
        while let batch = try stream.next() {
            checksum += Double(batch.frames[batch.frames.count / 2]) + Double(batch.text.ids.count)
        }
        let seconds = Date().timeIntervalSince(start)
        print("swift loader (\(source), \(split)): \(stream.samplesDelivered) samples in \(String(format: "%.3f", seconds)) s "
              + "on \(threads) threads (index \(String(format: "%.3f", indexSeconds)) s)")
        print("samples_per_second=\(String(format: "%.2f", Double(stream.samplesDelivered) / seconds))")
        print("report: \(stream.report); checksum \(checksum)")
    }
}
