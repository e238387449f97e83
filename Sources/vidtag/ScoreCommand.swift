import ArgumentParser
import Foundation
import VidTagData

/// `vidtag score`: any submission file against a truth file, with the challenge metric.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score a result.csv ({id},{category_id} lines) against a truth CSV of the same form.",
        discussion: "Every truth id must be predicted once. The label space is the data root's labels.json, or the WeChat 2022 one.")

    @Argument(help: "The submission (result.csv).") var result: String
    @Option(help: "CSV of id,category_id lines: the truth.") var truth: String
    @Option(help: "Data root whose labels.json defines the classes (default: the WeChat 2022 label space).") var data: String?
    @Flag(help: "Print the score table and per-class reports as one JSON object instead.") var json = false

    func run() throws {
        let labels = try data.map { try LabelSpace(for: DataRoot(path: $0)) } ?? .wechat2022
        let truthTable = try TruthTable(contentsOf: URL(fileURLWithPath: truth), labels: labels)
        let predicted = try TruthTable(contentsOf: URL(fileURLWithPath: result), labels: labels)
        let ids = truthTable.labels.keys.sorted()
        let missing = ids.filter { predicted.labels[$0] == nil }
        guard missing.isEmpty else {
            throw ValidationError("\(result) has no line for \(missing.count) video(s) of \(truth), e.g. \(missing.prefix(3).joined(separator: ", "))")
        }
        let extra = predicted.labels.keys.filter { truthTable.labels[$0] == nil }
        guard extra.isEmpty else {
            throw ValidationError("\(result) has \(extra.count) video(s) that \(truth) does not, e.g. \(extra.sorted().prefix(3).joined(separator: ", "))")
        }
        let score = try ChallengeScore.compute(truthIndices: ids.map { truthTable.labels[$0]! },
                                               predictedIndices: ids.map { predicted.labels[$0]! }, labelSpace: labels)
        if json {
            print(try ScoreJSON.text(score))
        } else {
            print(score.summary)
            print("level 1\n" + score.level1.table() + "\nlevel 2\n" + score.level2.table())
        }
    }
}
