import ArgumentParser

/// Every benchmark subcommand, one file each in bench/swift/.
let benchmarkCommands: [ParsableCommand.Type] = [
    TokenizerBench.self,
]
