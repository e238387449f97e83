import ArgumentParser
@preconcurrency import Glibc
import Foundation
import Torch

@main
struct VidTag: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vidtag",
        abstract: "Train, evaluate and serve short-video classifiers from frames and text.",
        version: vidtagVersion,
        subcommands: vidtagCommands)

    /// libtorch's OpenMP threads wait passively (set before libgomp loads: a re-exec when the environment
    /// lacks it), and output is line-buffered, so that progress reaches logs and pipes as it happens.
    static func main() {
        Runtime.reexecWithOpenMPEnvironment()
        Runtime.fixMallocMmapThreshold()
        setvbuf(stdout, nil, _IOLBF, 0)
        main(nil)
    }
}
