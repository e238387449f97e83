import ArgumentParser
@preconcurrency import Glibc
import Foundation

@main
struct VidTag: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vidtag",
        abstract: "Train, evaluate and serve short-video classifiers from frames and text.",
        version: vidtagVersion,
        subcommands: vidtagCommands)

    /// Line-buffered output, so that progress reaches logs and pipes as it happens.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        main(nil)
    }
}
