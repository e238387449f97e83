import Foundation

/// `result.csv` as the challenge defines it: one line `{id},{category_id}` per test video, no header,
/// LF line ends.
public enum SubmissionWriter {
    /// The file's text for `predictions` in the given order.
    public static func render(_ predictions: [(id: String, categoryId: String)]) -> String {
        var text = ""
        text.reserveCapacity(predictions.count * 26)
        for prediction in predictions { text += "\(prediction.id),\(prediction.categoryId)\n" }
        return text
    }

    /// Writes `result.csv` atomically.
    public static func write(_ predictions: [(id: String, categoryId: String)], to url: URL) throws {
        try Data(render(predictions).utf8).write(to: url, options: .atomic)
    }
}

/// One problem in a submission file; `line` is 1-based, nil for problems of the whole file.
public struct SubmissionProblem: Sendable, Equatable, CustomStringConvertible {
    public var line: Int?
    public var content: String?
    public var problem: String

    public var description: String {
        guard let line else { return problem }
        let shown = content.map { " \"\($0.count > 60 ? String($0.prefix(60)) + "…" : $0)\"" } ?? ""
        return "line \(line)\(shown): \(problem)"
    }
}

/// A submission that failed the check: the file and every problem found.
public struct SubmissionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var problems: [SubmissionProblem]

    public var description: String {
        let shown = problems.prefix(20).map { "  \($0)" }.joined(separator: "\n")
        let more = problems.count > 20 ? "\n  … and \(problems.count - 20) more" : ""
        return "\(path): \(problems.count) problem(s) in the submission:\n\(shown)\(more)\n"
            + "Expected one line '{id},{category_id}' per test video, no header, LF line ends."
    }
}

/// Checks `result.csv` against the test split's ids and the label space: every id exactly once, known
/// category ids, no header, no blank lines, exactly two fields per line, LF line ends.
public struct SubmissionChecker: Sendable {
    public let expectedIds: [String]
    public let labelSpace: LabelSpace
    private let expected: Set<String>

    public init(expectedIds: [String], labelSpace: LabelSpace) {
        self.expectedIds = expectedIds
        self.labelSpace = labelSpace
        self.expected = Set(expectedIds)
    }

    /// Every problem in the file's text (empty when the submission is valid).
    public func problems(in data: Data) -> [SubmissionProblem] {
        guard let text = String(data: data, encoding: .utf8) else {
            return [SubmissionProblem(line: nil, content: nil, problem: "the file is not UTF-8 text")]
        }
        var problems: [SubmissionProblem] = []
        var lineOfId: [String: Int] = [:]
        // Split on the LF scalar: as Characters, "\r\n" is one grapheme and would hide CR line ends.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { String($0) }
        if text.unicodeScalars.last == "\n" { lines.removeLast() }  // the final line end
        if text.isEmpty { lines = [] }
        for (offset, rawLine) in lines.enumerated() {
            let number = offset + 1
            var line = Substring(rawLine)
            func report(_ problem: String) { problems.append(SubmissionProblem(line: number, content: String(rawLine), problem: problem)) }
            if line.hasSuffix("\r") {
                report("ends with CR (Windows line end); use LF only")
                line = line.dropLast()
            }
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                report("blank line; remove it")
                continue
            }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 2 else {
                report("\(fields.count) field(s); expected exactly two, '{id},{category_id}'")
                continue
            }
            let id = String(fields[0]), category = String(fields[1])
            if id != id.trimmingCharacters(in: .whitespaces) || category != category.trimmingCharacters(in: .whitespaces) {
                report("spaces around a field; write '{id},{category_id}' with nothing else")
                continue
            }
            if number == 1 && !expected.contains(id) && !labelSpace.contains(category) && id.contains(where: { !$0.isNumber }) {
                report("looks like a header; the file must not have one")
                continue
            }
            if !expected.contains(id) {
                report("id \(id) is not a video of the test split")
            } else if let first = lineOfId[id] {
                report("id \(id) already appears on line \(first); each id exactly once")
            } else {
                lineOfId[id] = number
            }
            if !labelSpace.contains(category) {
                report("category id '\(category)' is not in the label space (\(labelSpace.hintForUnknown(category)))")
            }
        }
        let missing = expectedIds.filter { lineOfId[$0] == nil }
        if !missing.isEmpty {
            problems.append(SubmissionProblem(
                line: nil, content: nil,
                problem: "\(missing.count) of \(expectedIds.count) test ids have no line (first: \(missing.prefix(5).joined(separator: ", ")))"))
        }
        return problems
    }

    /// Reads and checks `url`.
    /// - Throws: ``SubmissionError`` listing every problem, or the read error.
    public func validate(url: URL) throws {
        let problems = problems(in: try Data(contentsOf: url))
        if !problems.isEmpty { throw SubmissionError(path: url.path, problems: problems) }
    }
}
