import ArgumentParser
import Torch

/// `vidtag-bench NAME`: the Swift side of each benchmark in bench/. The script beside each benchmark
/// runs this and its PyTorch / Python counterpart alternately in one run and prints the ratio.
@main
struct VidTagBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vidtag-bench",
        abstract: "The Swift side of vidtag's benchmarks (see bench/README.md).",
        subcommands: benchmarkCommands)

    /// Measures vidtag as it ships: the process prepared as `vidtag` prepares itself.
    static func main() {
        Runtime.prepareProcess()
        main(nil)
    }
}
