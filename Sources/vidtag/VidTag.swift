import ArgumentParser

@main
struct VidTag: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vidtag",
        abstract: "Train, evaluate and serve short-video classifiers from frames and text.",
        version: vidtagVersion,
        subcommands: vidtagCommands)
}
