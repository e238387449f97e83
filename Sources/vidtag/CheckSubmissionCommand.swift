import ArgumentParser
import Foundation
import VidTagData
import VidTagTraining

/// `vidtag check-submission`: validates a result.csv against a split's ids and the label space.
struct CheckSubmissionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-submission",
        abstract: "Check a result.csv: every test id once, known category ids, no header, two fields per line.")

    @Option(help: "Data root.") var data: String
    @Option(help: "Split the submission is for.") var split = "test_a"
    @Argument(help: "The submission file.") var file: String

    func run() throws {
        let root = DataRoot(path: data)
        var ids: [String] = []
        _ = try AnnotationReader(url: try root.annotationsURL(split: split), labelSpace: nil, policy: .skip).forEach {
            ids.append($0.id)
        }
        let checker = SubmissionChecker(expectedIds: ids, labelSpace: try LabelSpace(for: root))
        do {
            try checker.validate(url: URL(fileURLWithPath: file))
        } catch {
            print(error)
            throw ExitCode.failure
        }
        print("\(file): ok (\(ids.count) videos of \(split), one line each, known categories)")
    }
}
