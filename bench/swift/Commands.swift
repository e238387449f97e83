import ArgumentParser

/// Every benchmark subcommand, one file each in bench/swift/.
let benchmarkCommands: [ParsableCommand.Type] = [
    FramesBench.self,
    TokenizerBench.self,
]
