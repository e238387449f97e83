import Foundation
import Testing

@testable import VidTagData

@Suite("Compact token storage of the video index")
struct TokenStorageTests {
    /// Every record's ids from the index equal the tokenizer's own encoding of the record, in both widths.
    private func expectRoundTrip(_ index: VideoIndex, records: [VideoAnnotation], tokenizer: BertTokenizer) throws {
        #expect(index.count == records.count)
        for (position, record) in records.enumerated() {
            let expected = try VideoIndex.encodeText(of: record, tokenizer: tokenizer, budgets: TextBudgets(),
                                                     tokenTypes: .allZero)
            #expect(index.text(at: position).ids == expected.ids)
            #expect(index.text(at: position).segmentRanges == expected.segmentRanges)
        }
    }

    @Test("ids of the Chinese BERT vocabulary (21,128 entries) are stored in 16 bits and round-trip exactly")
    func narrow() throws {
        let root = DataRoot(url: try DemoFixture.root)
        let index = try VideoIndex(dataRoot: root, split: "labeled", tokenizer: DemoFixture.tokenizer, labelSpace: .wechat2022)
        #expect(index.tokens.width == 2)
        var records: [VideoAnnotation] = []
        _ = try AnnotationReader(url: root.annotationsURL(split: "labeled"), labelSpace: .wechat2022, policy: .skip)
            .forEach { records.append($0) }
        try expectRoundTrip(index, records: records, tokenizer: DemoFixture.tokenizer)
        // The largest id of that vocabulary is reachable and survives the narrowing.
        var storage = TokenStorage(vocabularySize: 65_536)
        storage.append([0, 65_535, 21_127])
        #expect(storage == .narrow([0, 65_535, 21_127]) && storage.ids(0..<3) == [0, 65_535, 21_127])
    }

    @Test("a vocabulary over 65,536 entries falls back to 32-bit ids, which round-trip exactly")
    func wide() throws {
        let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        let words = (0..<70_000).map { "w\($0)" }
        let tokenizer = try BertTokenizer(vocabulary: Vocabulary(tokens: specials + words, source: "large test vocabulary"))
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vidtag-token-storage-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("annotations"), withIntermediateDirectories: true)
        // w69990 has id 69,995: it does not fit 16 bits.
        let records = [
            VideoAnnotation(id: "1", title: "w1 w69990 w65536", asr: "w3", ocr: [OCRSegment(time: 0, text: "w69999")]),
            VideoAnnotation(id: "2", title: "w2", asr: "w65535 w65534"),
        ]
        try AnnotationWriter.write(records, to: root.appendingPathComponent("annotations/big.json"))
        let index = try VideoIndex(dataRoot: DataRoot(url: root), split: "big", tokenizer: tokenizer)
        #expect(index.tokens.width == 4)
        #expect(index.text(at: 0).ids.contains(69_995))
        try expectRoundTrip(index, records: records, tokenizer: tokenizer)
    }
}
