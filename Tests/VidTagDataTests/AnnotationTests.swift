import Foundation
import Testing

@testable import VidTagData

/// Paths shared by the data-format tests: the repository, its committed fixtures, the real reference samples (Tests/Fixtures/wechat2022)
/// and fresh temporary folders.
enum FormatTestFiles {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = repository.appendingPathComponent("Tests/Fixtures")
    static let referenceData = fixtures.appendingPathComponent("wechat2022")

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-formats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func write(_ text: String, named name: String, in directory: URL) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }
}

@Suite("Annotations")
struct AnnotationTests {
    let sampleURL = FormatTestFiles.referenceData.appendingPathComponent("wechat2022_labeled_sample.json")

    @Test func readsTheRealSampleRecord() throws {
        let (records, report) = try AnnotationReader(url: sampleURL, labelSpace: .wechat2022).readAll()
        #expect(report.recordsSeen == 1 && report.recordsKept == 1 && report.recordsSkipped == 0)
        let record = try #require(records.first)
        #expect(record.id == "13477278056527828998")
        #expect(record.categoryId == "1203")
        #expect(record.title == "管嘴管心，祸少福多;#国学禅语")
        #expect(record.asr.hasPrefix("人多时管住嘴多错多是非多"))
        #expect(record.ocr == [OCRSegment(time: 0, text: "管嘴管心祸少福多人多时,管住嘴")])
    }

    @Test func writerReproducesTheWeChatFileByteForByte() throws {
        let (records, _) = try AnnotationReader(url: sampleURL).readAll()
        let directory = try FormatTestFiles.temporaryDirectory()
        let output = directory.appendingPathComponent("labeled.json")
        try AnnotationWriter.write(records, to: output)
        #expect(try Data(contentsOf: output) == Data(contentsOf: sampleURL))
    }

    @Test func writerEscapesAsPythonJsonDoesAndLayoutMatches() throws {
        let directory = try FormatTestFiles.temporaryDirectory()
        let url = directory.appendingPathComponent("a.json")
        let record = VideoAnnotation(id: "1", title: "q\"b\\s\n\t\r\u{8}\u{c}\u{1}\u{7f}/中😀", asr: "", ocr: [])
        try AnnotationWriter.write([record, VideoAnnotation(id: "2", categoryId: "0000", ocr: [OCRSegment(time: 3, text: "x")])], to: url)
        let expected = """
            [
             {
              "id": "1",
              "title": "q\\"b\\\\s\\n\\t\\r\\b\\f\\u0001\u{7f}/中😀",
              "asr": "",
              "ocr": []
             },
             {
              "id": "2",
              "category_id": "0000",
              "title": "",
              "asr": "",
              "ocr": [
               {
                "time": 3,
                "text": "x"
               }
              ]
             }
            ]
            """
        #expect(String(decoding: try Data(contentsOf: url), as: UTF8.self) == expected)
        let (back, _) = try AnnotationReader(url: url).readAll()
        #expect(back.first == record)
        try AnnotationWriter.write([], to: url)
        #expect(String(decoding: try Data(contentsOf: url), as: UTF8.self) == "[]")
    }

    @Test(arguments: [7, 64, 1 << 20])
    func streamsManyRecordsThroughAnyBufferSize(bufferSize: Int) throws {
        let firstId: UInt64 = 10_000_000_000_000_000_000
        let records = (0..<300).map { (index: Int) -> VideoAnnotation in
            VideoAnnotation(
                id: String(firstId + UInt64(index)),
                categoryId: LabelSpace.wechat2022.level2Ids[index % 200],
                title: "标题 \(index) \"quoted\" {brace} [bracket] \\",
                asr: index % 3 == 0 ? "" : "asr \(index)",
                ocr: (0..<(index % 4)).map { OCRSegment(time: 3 - $0, text: "t\($0)") })
        }
        let url = try FormatTestFiles.temporaryDirectory().appendingPathComponent("many.json")
        try AnnotationWriter.write(records, to: url)
        var seen: [VideoAnnotation] = []
        let report = try AnnotationReader(url: url, labelSpace: .wechat2022, bufferSize: bufferSize).forEach { seen.append($0) }
        #expect(seen == records)
        #expect(report.recordsKept == 300)
    }

    @Test func ocrTextJoinsInTimeOrderStably() {
        let record = VideoAnnotation(id: "1", ocr: [
            OCRSegment(time: 5, text: "c"), OCRSegment(time: 0, text: "a"), OCRSegment(time: 5, text: "d"),
            OCRSegment(time: 2, text: ""), OCRSegment(time: 1, text: "b"),
        ])
        #expect(record.ocrText == "a b c d")
        #expect(record.ocrText(separator: "，") == "a，b，c，d")
    }

    @Test func absentAndNullFieldsAreEmpty() throws {
        let url = try FormatTestFiles.write(
            #"[{"id": "1", "title": null, "ocr": null}, {"id": "2", "ocr": [{"time": 1.0}]}]"#, named: "n.json",
            in: FormatTestFiles.temporaryDirectory())
        let (records, _) = try AnnotationReader(url: url).readAll()
        #expect(records == [VideoAnnotation(id: "1"), VideoAnnotation(id: "2", ocr: [OCRSegment(time: 1, text: "")])])
    }

    static let badRecords: [(json: String, kind: AnnotationIssueKind, id: String?, fragment: String)] = [
        (#"{"title": "no id"}"#, .missingId, nil, "has no \"id\""),
        (#"{"id": ""}"#, .missingId, nil, "empty string"),
        (#"{"id": "100"}"#, .duplicateId, "100", "appears earlier"),
        (#"{"id": "5", "category_id": "9999"}"#, .unknownCategory, "5", "'9999' is not in the label space"),
        (#"{"id": 5}"#, .wrongFieldType, nil, "\"id\" is a number, expected a string"),
        (#"{"id": "5", "title": 3}"#, .wrongFieldType, "5", "\"title\" is a number"),
        (#"{"id": "5", "asr": ["x"]}"#, .wrongFieldType, "5", "\"asr\" is an array"),
        (#"{"id": "5", "ocr": "text"}"#, .wrongFieldType, "5", "\"ocr\" is a string"),
        (#"{"id": "5", "ocr": [{"time": "0", "text": "x"}]}"#, .wrongFieldType, "5", "ocr[0].time is a string"),
        (#"{"id": "5", "ocr": [{"time": 0.5, "text": "x"}]}"#, .wrongFieldType, "5", "ocr[0].time is a number, expected an integer"),
        (#"{"id": "5", "ocr": [{"time": 0, "text": false}]}"#, .wrongFieldType, "5", "ocr[0].text is a boolean"),
        (#"{"id": "5", "title": true}"#, .wrongFieldType, "5", "\"title\" is a boolean"),
        (#""just a string""#, .wrongFieldType, nil, "the record is a string, expected an object"),
        (#"{"id": "5", "title": }"#, .malformedRecord, nil, "cannot parse the record as JSON"),
    ]

    @Test(arguments: badRecords.indices)
    func badRecordStopsWithItsFileIndexAndId(caseIndex: Int) throws {
        let bad = Self.badRecords[caseIndex]
        let json = "[\n{\"id\": \"100\", \"category_id\": \"0000\"},\n\(bad.json),\n{\"id\": \"200\"}\n]"
        let url = try FormatTestFiles.write(json, named: "bad.json", in: FormatTestFiles.temporaryDirectory())
        let reader = AnnotationReader(url: url, labelSpace: .wechat2022)
        let error = try #require(throws: AnnotationIssue.self) { try reader.readAll() }
        #expect(error.kind == bad.kind)
        #expect(error.recordIndex == 1 && error.line == 3)
        #expect(error.id == bad.id)
        #expect(error.description.contains(url.path))
        #expect(error.description.contains("record 1"))
        #expect(error.description.contains(bad.fragment), "\(error)")
    }

    @Test func skipPolicyCountsEachKindAndKeepsGoing() throws {
        let lines = [#"{"id": "1", "category_id": "0000"}"#] + Self.badRecords.map(\.json) + [#"{"id": "2"}"#]
        let url = try FormatTestFiles.write("[" + lines.joined(separator: ",\n") + "]", named: "skip.json",
                                            in: FormatTestFiles.temporaryDirectory())
        let (records, report) = try AnnotationReader(url: url, labelSpace: .wechat2022, policy: .skip).readAll()
        #expect(records.map(\.id) == ["1", "100", "2"])
        #expect(report.recordsSeen == lines.count)
        // "100" is kept (first time seen), so the duplicate case is no longer a duplicate here.
        #expect(report.skippedByKind == [.missingId: 2, .unknownCategory: 1, .wrongFieldType: 9, .malformedRecord: 1])
        #expect(report.recordsKept == 3)
        #expect(report.examples.count == report.recordsSkipped)
    }

    @Test func requireCategoryFlagsUnlabelledRecords() throws {
        let url = try FormatTestFiles.write(#"[{"id": "1", "category_id": "0000"}, {"id": "2"}]"#, named: "l.json",
                                            in: FormatTestFiles.temporaryDirectory())
        let error = try #require(throws: AnnotationIssue.self) {
            try AnnotationReader(url: url, requireCategory: true).readAll()
        }
        #expect(error.kind == .missingCategory && error.id == "2")
    }

    static let brokenArrays: [(json: String, fragment: String)] = [
        ("", "the file is empty"),
        (#"{"id": "1"}"#, "expected the file to start with '['"),
        (#"[{"id": "1"}, {"id": "2""#, "truncated file"),
        (#"[{"id": "1"}"#, "the file ends inside the array"),
        (#"[{"id": "1"} {"id": "2"}]"#, "expected ',' or ']' after record 0, found '{'"),
        (#"[{"id": "1"},]"#, "trailing comma"),
        (#"[{"id": "1"}] x"#, "unexpected 'x' after the closing ']'"),
    ]

    @Test(arguments: brokenArrays.indices)
    func brokenArrayIsFatalEvenWhenSkipping(caseIndex: Int) throws {
        let broken = Self.brokenArrays[caseIndex]
        let url = try FormatTestFiles.write(broken.json, named: "broken.json", in: FormatTestFiles.temporaryDirectory())
        let error = try #require(throws: AnnotationFileError.self) {
            try AnnotationReader(url: url, policy: .skip).readAll()
        }
        #expect(error.description.contains(url.path))
        #expect(error.description.contains(broken.fragment), "\(error)")
    }

    @Test func missingFileNamesThePath() throws {
        let error = try #require(throws: AnnotationFileError.self) {
            try AnnotationReader(url: URL(fileURLWithPath: "/nonexistent/labeled.json")).readAll()
        }
        #expect(error.description.contains("/nonexistent/labeled.json"))
    }

    @Test func dataRootFindsSplitsAndNamesWhatIsMissing() throws {
        let root = try FormatTestFiles.temporaryDirectory()
        try FileManager.default.createDirectory(at: root.appendingPathComponent("annotations"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("zip_frames/labeled"), withIntermediateDirectories: true)
        _ = try FormatTestFiles.write("[]", named: "annotations/labeled.json", in: root)
        _ = try FormatTestFiles.write("[]", named: "annotations/test_a.json", in: root)
        let dataRoot = DataRoot(url: root)
        #expect(try dataRoot.annotationsURL(split: "labeled").path.hasSuffix("annotations/labeled.json"))
        #expect(try dataRoot.framesFolderURL(split: "labeled").lastPathComponent == "labeled")
        #expect(dataRoot.annotatedSplits() == ["labeled", "test_a"])
        #expect(dataRoot.frameZipURL(split: "labeled", id: "13477278056527828998").path
                    .hasSuffix("zip_frames/labeled/998/13477278056527828998.zip"))
        let missing = try #require(throws: DataRootError.self) { try dataRoot.annotationsURL(split: "test_b") }
        #expect(missing.description.contains("annotations/test_b.json"))
        #expect(missing.description.contains("splits present: labeled, test_a"))
        let noZip = try #require(throws: DataRootError.self) { try dataRoot.featuresURL(split: "labeled") }
        #expect(noZip.description.contains("zip_feats/labeled.zip") && noZip.description.contains("none found"))
    }

    @Test func videoIdKeysAreDistinctForLeadingZerosAndLongIds() {
        var set = VideoIDSet()
        for id in ["123", "0123", "00123", "13477278056527828998", "99999999999999999999", "1347727805652782899", "abc", "12a"] {
            let inserted = set.insert(id)
            #expect(inserted, "\(id)")
        }
        let again = [set.insert("0123"), set.insert("abc")]
        #expect(again == [false, false] && set.count == 8)
        #expect(set.contains("99999999999999999999") && !set.contains("99999999999999999998"))
    }
}

@Suite("Record JSON parser")
struct RecordJSONParserTests {
    @Test func parsesEscapesSurrogatesAndNumbersLikeJSONSerialization() throws {
        let text = #"{"s": "a\"b\\c\/d\n\t\u00e9\u4e2d\ud83d\ude00x", "i": -12, "d": 1.5e3, "b": [true, false, null], "o": {}, "e": []}"#
        let value = try JSONValue.parse(Array(text.utf8))
        #expect(value["s"] == .string("a\"b\\c/d\n\té中😀x"))
        #expect(value["i"] == .integer(-12) && value["d"] == .double(1500))
        #expect(value["b"] == .array([.bool(true), .bool(false), .null]))
        #expect(value["o"] == .object([]) && value["e"] == .array([]) && value["missing"] == nil)
        let reference = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(reference?["s"] as? String == "a\"b\\c/d\n\té中😀x")
    }

    @Test(arguments: [#"{"a": 1,}"#, #"{"a" 1}"#, #"{"a": 01}"#, #"{"a": "x"#, "{\"a\": \"tab\there\"}", #"{"a": tru}"#,
                      #"{"a": 1} x"#, #"{"a": "\q"}"#, #"[1, 2"#, #"{"a": -}"#, #"{"a": 1.}"#])
    func rejectsInvalidJSON(text: String) {
        #expect(throws: JSONValue.SyntaxError.self) { try JSONValue.parse(Array(text.utf8)) }
    }
}
