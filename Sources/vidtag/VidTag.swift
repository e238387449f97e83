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

    /// libtorch's OpenMP threads wait passively and glibc's mmap threshold is fixed (`Runtime.prepareProcess`),
    /// and output is line-buffered, so that progress reaches logs and pipes as it happens.
    static func main() {
        Runtime.prepareProcess()
        setvbuf(stdout, nil, _IOLBF, 0)
        main(nil)
    }
}
