import Foundation
import Testing

@testable import VidTagData

@Suite("Challenge metric")
struct MetricTests {
    struct Level: Decodable {
        let micro_f1: Double
        let macro_f1: Double
        let labels: [String]
        let precision: [Double]
        let recall: [Double]
        let f1: [Double]
        let support: [Int]
    }

    struct Case: Decodable {
        let name: String
        let truth: [String]
        let predicted: [String]
        let level1: Level
        let level2: Level
        let score: Double
    }

    struct Fixture: Decodable { let cases: [Case] }

    static let cases: [Case] = {
        let url = FormatTestFiles.fixtures.appendingPathComponent("metric/cases.json")
        return (try? JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url)).cases) ?? []
    }()

    static func expectClose(_ report: F1Report, _ reference: Level, _ context: String) {
        let tolerance = 1e-12
        #expect(abs(report.microF1 - reference.micro_f1) <= tolerance, "\(context) micro")
        #expect(abs(report.macroF1 - reference.macro_f1) <= tolerance, "\(context) macro")
        #expect(report.classes.map(\.label) == reference.labels, "\(context) labels")
        for (index, score) in report.classes.enumerated() where index < reference.labels.count {
            #expect(abs(score.precision - reference.precision[index]) <= tolerance, "\(context) precision \(score.label)")
            #expect(abs(score.recall - reference.recall[index]) <= tolerance, "\(context) recall \(score.label)")
            #expect(abs(score.f1 - reference.f1[index]) <= tolerance, "\(context) f1 \(score.label)")
            #expect(score.support == reference.support[index], "\(context) support \(score.label)")
        }
    }

    @Test func fixtureHasTheIntendedCases() {
        #expect(Self.cases.count == 8)
    }

    @Test(arguments: cases.map(\.name))
    func matchesScikitLearn(name: String) throws {
        let reference = try #require(Self.cases.first { $0.name == name })
        let score = try ChallengeScore.compute(truth: reference.truth, predicted: reference.predicted)
        Self.expectClose(score.level1, reference.level1, "\(name) level 1")
        Self.expectClose(score.level2, reference.level2, "\(name) level 2")
        #expect(abs(score.mean - reference.score) <= 1e-12)
    }

    @Test func microF1IsAccuracyAndMacroSkipsAbsentClasses() throws {
        let report = try F1Report.compute(truth: ["a", "a", "b"], predicted: ["a", "c", "b"])
        #expect(report.microF1 == report.accuracy && abs(report.accuracy - 2.0 / 3.0) < 1e-15)
        #expect(report.classes.map(\.label) == ["a", "b", "c"])
        #expect(abs(report.macroF1 - (2.0 / 3.0 + 1 + 0) / 3) < 1e-15)
    }

    @Test func indicesScoreLikeIds() throws {
        let space = LabelSpace.wechat2022
        let byIndex = try ChallengeScore.compute(truthIndices: [0, 1, 9, 199], predictedIndices: [0, 2, 9, 198], labelSpace: space)
        let byId = try ChallengeScore.compute(truth: ["0000", "0001", "0100", "2223"], predicted: ["0000", "0002", "0100", "2222"])
        #expect(byIndex == byId)
        #expect(byIndex.level1MicroF1 == 1 && byIndex.level2MicroF1 == 0.5)
    }

    @Test func emptyAndMismatchedInputsThrowAsScikitLearnDoes() {
        #expect(throws: MetricError.empty) { try ChallengeScore.compute(truth: [], predicted: []) }
        #expect(throws: MetricError.lengthMismatch(truth: 2, predicted: 1)) {
            try ChallengeScore.compute(truth: ["0000", "0001"], predicted: ["0000"])
        }
    }

    @Test func tableListsEveryClassAndTheAverages() throws {
        let report = try F1Report.compute(truth: ["0000", "0001", "0001"], predicted: ["0000", "0001", "0000"])
        let table = report.table(digits: 3)
        let lines = table.split(separator: "\n")
        #expect(lines.first?.contains("precision") == true)
        #expect(lines.contains { $0.contains("0000") && $0.contains("0.500") && $0.contains("1.000") && $0.hasSuffix(" 1") })
        #expect(lines.contains { $0.contains("accuracy") && $0.contains("0.667") })
        #expect(lines.contains { $0.contains("macro avg") })
        #expect(try ChallengeScore.compute(truth: ["0000"], predicted: ["0000"]).summary.hasPrefix("score 1.0000"))
    }
}
