import ArgumentParser
import Foundation
import Synchronization
import VidTagData

/// `vidtag-bench features`: feature members per second read from a `zip_feats` zip by id (index the
/// central directory, pread the member, parse the .npy, float16 → float32, NaN/Inf check), on a fixed
/// number of threads sharing one ``FeatureArchive``. bench/features.sh runs it against
/// bench/python/feature_read_bench.py.
struct FeatureReadBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features", abstract: "Feature members per second read from a feature zip (see bench/features.sh).")

    @Option(help: "The feature zip ({id}.npy members).")
    var zip: String

    @Option(help: "File of ids to read, one per line, in reading order.")
    var ids: String

    @Option(help: "Worker threads.")
    var threads: Int = 2

    @Option(help: "Passes over all ids.")
    var passes: Int = 1

    func run() throws {
        let order = try String(contentsOfFile: ids, encoding: .utf8).split(separator: "\n").map(String.init)
        let openStart = Date()
        let archive = try FeatureArchive(url: URL(fileURLWithPath: zip))
        let openSeconds = Date().timeIntervalSince(openStart)
        let work = order.count * passes
        let next = Atomic<Int>(0)
        let totals = Mutex((frames: 0, checksum: 0.0, failures: 0))
        let start = Date()
        let done = DispatchGroup()
        for _ in 0..<threads {
            done.enter()
            Thread.detachNewThread {
                var frames = 0, checksum = 0.0, failures = 0
                while true {
                    let index = next.add(1, ordering: .relaxed).oldValue
                    if index >= work { break }
                    do {
                        let features = try archive.features(id: order[index % order.count])
                        frames += features.frameCount
                        checksum += Double(features.values.first ?? 0)
                    } catch {
                        failures += 1
                    }
                }
                totals.withLock { $0.frames += frames; $0.checksum += checksum; $0.failures += failures }
                done.leave()
            }
        }
        done.wait()
        let seconds = Date().timeIntervalSince(start)
        let result = totals.withLock { $0 }
        print(String(format: "open (central directory of %d members) %.1f ms", archive.count, openSeconds * 1000))
        print(String(format: "features_per_second=%.1f frames=%d failures=%d checksum=%.4f", Double(work) / seconds,
                     result.frames, result.failures, result.checksum))
    }
}
