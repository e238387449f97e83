import Foundation
import Testing

@testable import VidTagData

@Suite("Folds")
struct FoldTests {
    /// A skewed labelled set: class c has 3 + c * 7 % 40 videos.
    static func sample() -> (ids: [String], labels: [String]) {
        var ids: [String] = [], labels: [String] = []
        for (classIndex, label) in LabelSpace.wechat2022.level2Ids.prefix(30).enumerated() {
            for member in 0..<(3 + classIndex * 7 % 40) {
                ids.append(String(13_000_000_000_000_000_000 as UInt64 + UInt64(classIndex * 1000 + member)))
                labels.append(label)
            }
        }
        return (ids, labels)
    }

    @Test func splitMix64MatchesTheReferenceStream() {
        var generator = SplitMix64(seed: 0)
        #expect([generator.next(), generator.next(), generator.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
        var bounded = SplitMix64(seed: 9)
        #expect((0..<1000).allSatisfy { _ in (0..<7).contains(bounded.uniform(below: 7)) })
    }

    @Test(arguments: [2, 5, 7])
    func foldsCoverEveryIdOnceAndSpreadEachClassEvenly(foldCount: Int) throws {
        let (ids, labels) = Self.sample()
        let folds = try FoldAssignment.stratified(ids: ids, labels: labels, foldCount: foldCount, seed: 42)
        #expect(folds.foldCount == foldCount)
        let all = folds.folds.flatMap { $0 }
        #expect(all.count == ids.count && Set(all) == Set(ids))
        let sizes = folds.folds.map(\.count)
        #expect(sizes.max()! - sizes.min()! <= 1)
        let labelById = Dictionary(uniqueKeysWithValues: zip(ids, labels))
        for label in Set(labels) {
            let perFold = folds.folds.map { fold in fold.filter { labelById[$0] == label }.count }
            #expect(perFold.max()! - perFold.min()! <= 1, "class \(label): \(perFold)")
        }
        for fold in 0..<foldCount {
            let training = Set(folds.trainingIds(fold: fold)), validation = Set(folds.validationIds(fold: fold))
            #expect(training.isDisjoint(with: validation) && training.count + validation.count == ids.count)
            #expect(validation.allSatisfy { folds.fold(of: $0) == fold })
        }
    }

    @Test func sameSeedSameFoldsWhateverTheInputOrder() throws {
        let (ids, labels) = Self.sample()
        let first = try FoldAssignment.stratified(ids: ids, labels: labels, foldCount: 5, seed: 7)
        let reversed = try FoldAssignment.stratified(ids: ids.reversed(), labels: labels.reversed(), foldCount: 5, seed: 7)
        #expect(first == reversed)
        let other = try FoldAssignment.stratified(ids: ids, labels: labels, foldCount: 5, seed: 8)
        #expect(other.folds != first.folds)
    }

    @Test func foldsFileRoundTripsAndIsCheckedAgainstTheIds() throws {
        let (ids, labels) = Self.sample()
        let folds = try FoldAssignment.stratified(ids: ids, labels: labels, foldCount: 5, seed: 3)
        let url = try FormatTestFiles.temporaryDirectory().appendingPathComponent("folds.json")
        try folds.write(to: url)
        #expect(try FoldAssignment.read(from: url, expectedIds: ids.shuffled()) == folds)

        let extra = try #require(throws: FoldError.self) { try FoldAssignment.read(from: url, expectedIds: Array(ids.dropFirst())) }
        #expect(extra.description.contains("id \(ids[0]) is in the folds but not in the data set"))
        let missing = try #require(throws: FoldError.self) { try FoldAssignment.read(from: url, expectedIds: ids + ["42"]) }
        #expect(missing.description.contains("1 ids of the data set are in no fold (first: 42)"))
        #expect(missing.description.contains(url.path) && missing.description.contains("delete the file"))

        let duplicated = #"{"format":"vidtag-folds","version":1,"seed":1,"fold_count":2,"stratified_by":"category_id","folds":[["1","2"],["2"]]}"#
        let duplicateURL = try FormatTestFiles.write(duplicated, named: "dup.json", in: FormatTestFiles.temporaryDirectory())
        let twice = try #require(throws: FoldError.self) { try FoldAssignment.read(from: duplicateURL, expectedIds: ["1", "2"]) }
        #expect(twice.description.contains("id 2 is in fold 0 and again in fold 1"))
        let garbage = try FormatTestFiles.write("{}", named: "g.json", in: FormatTestFiles.temporaryDirectory())
        #expect(throws: FoldError.self) { try FoldAssignment.read(from: garbage, expectedIds: []) }
    }

    @Test func impossibleSplitsAreRefused() throws {
        #expect(throws: FoldError.self) { try FoldAssignment.stratified(ids: ["1", "2"], labels: ["a", "a"], foldCount: 1, seed: 0) }
        #expect(throws: FoldError.self) { try FoldAssignment.stratified(ids: ["1", "2"], labels: ["a", "a"], foldCount: 3, seed: 0) }
        #expect(throws: FoldError.self) { try FoldAssignment.stratified(ids: ["1", "1"], labels: ["a", "a"], foldCount: 2, seed: 0) }
        let unlabelled = try #require(throws: FoldError.self) {
            try FoldAssignment.stratified(records: [VideoAnnotation(id: "9")], foldCount: 2, seed: 0)
        }
        #expect(unlabelled.description.contains("video 9 has no category_id"))
    }
}
