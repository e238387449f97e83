import Foundation
import Testing

@testable import VidTagData

@Suite("Label space")
struct LabelTests {
    struct CategoriesFile: Decodable {
        let category_ids: [String]
        let labeled_count: [Int]
    }

    let categoriesURL = FormatTestFiles.referenceData.appendingPathComponent("wechat2022_categories.json")

    @Test func builtInTableEqualsTheChallengeFile() throws {
        let file = try JSONDecoder().decode(CategoriesFile.self, from: Data(contentsOf: categoriesURL))
        let space = LabelSpace.wechat2022
        #expect(space.level2Ids == file.category_ids)
        #expect(space.level2Counts == file.labeled_count)
        #expect(space.level2Count == 200 && space.level1Count == 23)
        #expect(space.level2Counts?.reduce(0, +) == 100_000)
        #expect(try LabelSpace(contentsOf: categoriesURL) == space)
    }

    @Test func levelOneGroupsMatchTheDomainFacts() {
        let space = LabelSpace.wechat2022
        #expect(space.level1Ids == (0...22).map { String(format: "%02d", $0) })
        var perLevel1 = [Int](repeating: 0, count: space.level1Count)
        for parent in space.level1IndexOfLevel2Index { perLevel1[parent] += 1 }
        #expect(perLevel1 == [9, 5, 9, 6, 6, 3, 3, 6, 6, 8, 4, 6, 6, 12, 4, 10, 11, 9, 7, 6, 16, 24, 24])
        #expect(space.level2Counts?[space.level2Index(of: "1305")!] == 10_656)
        #expect(space.level2Counts?.min() == 14)
    }

    @Test func indexMapsRoundTrip() {
        let space = LabelSpace.wechat2022
        for (index, id) in space.level2Ids.enumerated() {
            #expect(space.level2Index(of: id) == index)
            #expect(space.level1Ids[space.level1IndexOfLevel2Index[index]] == String(id.prefix(2)))
        }
        for (index, id) in space.level1Ids.enumerated() { #expect(space.level1Index(of: id) == index) }
        #expect(space.level2Index(of: "2224") == nil && !space.contains("13") && space.level1Index(of: "23") == nil)
    }

    @Test func labelFileRoundTripsAndCountsComeFromData() throws {
        let space = try LabelSpace(level2Ids: ["0100", "0101", "0200"]).withCounts(from: ["0101", "0200", "0101"])
        #expect(space.level2Counts == [0, 2, 1] && space.level1Ids == ["01", "02"])
        let url = try FormatTestFiles.temporaryDirectory().appendingPathComponent("labels.json")
        try space.write(to: url)
        #expect(try LabelSpace(contentsOf: url) == space)
        let unknown = try #require(throws: LabelSpaceError.self) { try space.level2Counts(of: ["0101", "0300"]) }
        #expect(unknown.description.contains("'0300'") && unknown.description.contains("from '0100' to '0200'"))
    }

    @Test func badLabelSpacesAreRejectedWithReasons() throws {
        let duplicate = try #require(throws: LabelSpaceError.self) { try LabelSpace(level2Ids: ["0000", "0001", "0000"]) }
        #expect(duplicate.description.contains("'0000' appears at index 0 and again at 2"))
        let counts = try #require(throws: LabelSpaceError.self) { try LabelSpace(level2Ids: ["0000"], level2Counts: [1, 2]) }
        #expect(counts.description.contains("2 counts for 1 category ids"))
        #expect(throws: LabelSpaceError.self) { try LabelSpace(level2Ids: []) }
        let url = try FormatTestFiles.write(#"{"ids": ["0000"]}"#, named: "bad.json", in: FormatTestFiles.temporaryDirectory())
        let malformed = try #require(throws: LabelSpaceError.self) { try LabelSpace(contentsOf: url) }
        #expect(malformed.description.contains(url.path) && malformed.description.contains("category_ids"))
    }
}
