import ArgumentParser
import Foundation
import VidTagData
import VidTagDemo

/// `vidtag make-scale-data` (hidden, for the memory checks of docs/results/unlabelled-scale.md): a demo root
/// with small feature arrays and an `unlabeled` split of a million videos.
struct MakeScaleDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-scale-data",
        abstract: "Build a data root with a large unlabeled split (demo records repeated under new ids) and small features.",
        discussion: """
            Every split of --from is copied with the first --feature-size values of at most --frames frames per video \
            (float16); unlabeled becomes --unlabeled videos, the demo's unlabelled records repeated under new 19-digit \
            ids. No frame zips. 1,000,000 videos at 4 × 32 take about 0.5 GB of disk.
            """,
        shouldDisplay: false)

    @Option(help: "A demo data root (vidtag make-demo).") var from: String
    @Option(help: "Folder to write the data root into.") var out: String
    @Option(help: "Videos in the unlabeled split.") var unlabeled = 1_000_000
    @Option(help: "Frames kept per video.") var frames = 4
    @Option(help: "Values kept per frame feature.") var featureSize = 32

    func run() throws {
        let started = Date()
        let builder = try ScaleDataBuilder(source: DataRoot(path: from), unlabeledCount: unlabeled, frames: frames,
                                           featureSize: featureSize)
        try builder.build(at: URL(fileURLWithPath: out)) { print("  \($0)") }
        print(String(format: "scale data written to %@ in %.1f s", out, Date().timeIntervalSince(started)))
    }
}
