/// One video's annotation record from `annotations/{split}.json`.
public struct VideoAnnotation: Sendable, Equatable, Hashable {
    /// The video id, a 19–20 digit string in the WeChat data.
    public var id: String
    /// The level-2 category id; nil in unlabelled and test files.
    public var categoryId: String?
    /// The title; empty when absent.
    public var title: String
    /// The speech transcript; empty when absent.
    public var asr: String
    /// On-screen text segments, in file order.
    public var ocr: [OCRSegment]

    public init(id: String, categoryId: String? = nil, title: String = "", asr: String = "", ocr: [OCRSegment] = []) {
        self.id = id
        self.categoryId = categoryId
        self.title = title
        self.asr = asr
        self.ocr = ocr
    }

    /// The OCR texts joined in time order (stable for equal times), separated by one space.
    public var ocrText: String { ocrText(separator: " ") }

    /// The OCR texts joined in time order (stable for equal times) with `separator`; empty texts are left out.
    public func ocrText(separator: String) -> String {
        ocr.enumerated()
            .sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
            .map(\.element.text)
            .filter { !$0.isEmpty }
            .joined(separator: separator)
    }
}

/// One OCR segment: the text read on screen at `time` (an integer, seconds in the WeChat data).
public struct OCRSegment: Sendable, Equatable, Hashable {
    public var time: Int
    public var text: String

    public init(time: Int, text: String) {
        self.time = time
        self.text = text
    }
}
