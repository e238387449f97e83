import Foundation
import Testing

@testable import VidTagData

@Suite("Submission")
struct SubmissionTests {
    let ids = ["13477278056527828998", "13477278056527828999", "2345678901234567890"]
    var checker: SubmissionChecker { SubmissionChecker(expectedIds: ids, labelSpace: .wechat2022) }

    @Test func writerWritesOneLinePerVideoWithLF() throws {
        let url = try FormatTestFiles.temporaryDirectory().appendingPathComponent("result.csv")
        try SubmissionWriter.write([(ids[0], "1203"), (ids[1], "0000"), (ids[2], "2223")], to: url)
        let text = String(decoding: try Data(contentsOf: url), as: UTF8.self)
        #expect(text == "13477278056527828998,1203\n13477278056527828999,0000\n2345678901234567890,2223\n")
        #expect(throws: Never.self) { try checker.validate(url: url) }
    }

    @Test func finalLineWithoutLineEndIsAccepted() {
        let text = "\(ids[0]),1203\n\(ids[1]),0000\n\(ids[2]),2223"
        #expect(checker.problems(in: Data(text.utf8)).isEmpty)
    }

    static let badFiles: [(text: String, line: Int?, fragment: String)] = [
        ("id,category_id\n13477278056527828998,1203\n13477278056527828999,0000\n2345678901234567890,2223\n", 1, "looks like a header"),
        ("13477278056527828998,1203\n\n13477278056527828999,0000\n2345678901234567890,2223\n", 2, "blank line"),
        ("13477278056527828998,1203\r\n13477278056527828999,0000\n2345678901234567890,2223\n", 1, "ends with CR"),
        ("13477278056527828998,1203,0.9\n13477278056527828999,0000\n2345678901234567890,2223\n", 1, "3 field(s); expected exactly two"),
        ("13477278056527828998 1203\n13477278056527828999,0000\n2345678901234567890,2223\n", 1, "1 field(s)"),
        ("13477278056527828998, 1203\n13477278056527828999,0000\n2345678901234567890,2223\n", 1, "spaces around a field"),
        ("13477278056527828998,1203\n99,0000\n13477278056527828999,0000\n2345678901234567890,2223\n", 2, "id 99 is not a video of the test split"),
        ("13477278056527828998,1203\n13477278056527828999,0000\n13477278056527828998,1203\n2345678901234567890,2223\n", 3,
         "id 13477278056527828998 already appears on line 1"),
        ("13477278056527828998,1203\n13477278056527828999,9999\n2345678901234567890,2223\n", 2, "category id '9999' is not in the label space"),
        ("13477278056527828998,1203\n2345678901234567890,2223\n", nil, "1 of 3 test ids have no line (first: 13477278056527828999)"),
        ("", nil, "3 of 3 test ids have no line"),
    ]

    @Test(arguments: badFiles.indices)
    func eachProblemNamesItsLineAndContent(caseIndex: Int) throws {
        let bad = Self.badFiles[caseIndex]
        let problems = checker.problems(in: Data(bad.text.utf8))
        let problem = try #require(problems.first { $0.description.contains(bad.fragment) }, "\(problems)")
        #expect(problem.line == bad.line)
        if let line = bad.line {
            let content = String(bad.text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)[line - 1])
            #expect(problem.content == content)
            #expect(problem.description.hasPrefix("line \(line) "))
        }
        let url = try FormatTestFiles.write(bad.text, named: "result.csv", in: FormatTestFiles.temporaryDirectory())
        let error = try #require(throws: SubmissionError.self) { try checker.validate(url: url) }
        #expect(error.description.contains(url.path) && error.description.contains(bad.fragment))
    }

    @Test func nonUTF8FileIsReported() {
        let problems = checker.problems(in: Data([0xFF, 0xFE, 0x00]))
        #expect(problems.map(\.problem) == ["the file is not UTF-8 text"])
    }
}
