import ArgumentParser
import CTurboJPEG
import Foundation
import Synchronization
import VidTagData

/// `vidtag-bench frames`: evaluation clips per second from frame zips (zip → JPEG decode → resize →
/// centre crop → normalise → `[F, 3, S, S]`), on a fixed number of threads. bench/frames.sh runs it
/// against bench/python/frames_bench.py.
struct FramesBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frames", abstract: "Clips per second read from frame zips (see bench/frames.sh).")

    @Option(help: "Folder of {id[-3:]}/{id}.zip frame zips.")
    var directory: String

    @Option(help: "Worker threads.")
    var threads: Int = 2

    @Option(help: "Frames per clip (max_frames).")
    var frames: Int = 8

    @Option(help: "Frame side after resize and centre crop.")
    var size: Int = 224

    @Option(help: "Passes over all clips.")
    var passes: Int = 1

    @Flag(help: "Decode JPEGs in full instead of at the smallest sufficient DCT scale.")
    var noDctScaling = false

    func run() throws {
        printHandleCost()
        let root = URL(fileURLWithPath: directory)
        let videoIDs = try FileManager.default.subpathsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".zip") }
            .map { String(($0 as NSString).lastPathComponent.dropLast(4)) }
            .sorted()
        guard !videoIDs.isEmpty else { throw ValidationError("no .zip files under \(directory)") }
        var preprocessing = FramePreprocessing.clip(size: size)
        preprocessing.decodeWithDCTScaling = !noDctScaling
        let reader = VideoFrameReader(framesDirectory: root, maxFrames: frames, preprocessing: preprocessing)

        let work = videoIDs.count * passes
        let next = Atomic<Int>(0)
        let report = Mutex(FrameReadReport())
        let checksum = Mutex(0.0)
        let start = Date()
        let done = DispatchGroup()
        for _ in 0..<threads {
            done.enter()
            Thread.detachNewThread {
                var local = FrameReadReport()
                var sum = 0.0
                while true {
                    let index = next.add(1, ordering: .relaxed).oldValue
                    if index >= work { break }
                    let clip = reader.evaluationClip(videoID: videoIDs[index % videoIDs.count])
                    sum += Double(clip.frames[clip.frames.count / 2])
                    local.record(clip)
                }
                report.withLock { $0.merge(local) }
                checksum.withLock { $0 += sum }
                done.leave()
            }
        }
        done.wait()
        let seconds = Date().timeIntervalSince(start)
        let summary = report.withLock { $0.description }
        print("swift frames: \(work) clips in \(String(format: "%.3f", seconds)) s on \(threads) threads")
        print("clips_per_second=\(String(format: "%.2f", Double(work) / seconds))")
        print("report: \(summary); checksum \(checksum.withLock { $0 })")
    }

    /// What `JPEG`'s handle pool saves: creating and destroying a TurboJPEG decompressor per call.
    private func printHandleCost() {
        let rounds = 2000
        let start = Date()
        for _ in 0..<rounds {
            if let handle = tjInitDecompress() { tjDestroy(handle) }
        }
        let microseconds = Date().timeIntervalSince(start) / Double(rounds) * 1e6
        print("tjInitDecompress + tjDestroy: \(String(format: "%.1f", microseconds)) µs per call (the pool reuses handles)")
    }
}
