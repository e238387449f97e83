import Foundation

/// What to do with a bad record.
public enum BadRecordPolicy: Sendable, Equatable {
    /// Throw the first problem as an ``AnnotationIssue``.
    case stop
    /// Leave the record out, count it by kind in the ``AnnotationReport`` and go on.
    case skip
}

/// The kinds of bad record the reader recognises.
public enum AnnotationIssueKind: String, Sendable, CaseIterable, Codable {
    case missingId = "missing id"
    case duplicateId = "duplicate id"
    case missingCategory = "missing category_id"
    case unknownCategory = "unknown category_id"
    case wrongFieldType = "wrong field type"
    case malformedRecord = "malformed JSON"
}

/// One bad record: which file, which record (0-based index, the line it starts on, the id when known),
/// what was wrong and what to do about it.
public struct AnnotationIssue: Error, Sendable, Equatable, CustomStringConvertible {
    public var kind: AnnotationIssueKind
    public var path: String
    public var recordIndex: Int
    public var line: Int
    public var id: String?
    public var detail: String

    public var description: String {
        let idPart = id.map { " (id \($0))" } ?? ""
        return "\(path): record \(recordIndex)\(idPart), line \(line): \(kind.rawValue): \(detail)"
    }
}

/// A file that cannot be read as an array of records at all. Not subject to ``BadRecordPolicy``.
public enum AnnotationFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case malformedArray(path: String, recordIndex: Int, line: Int, problem: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "\(path): cannot read annotation file: \(reason)"
        case .malformedArray(let path, let recordIndex, let line, let problem):
            "\(path): malformed annotation array near record \(recordIndex), line \(line): \(problem)"
        }
    }
}

/// What a read saw: records seen and kept, and bad records counted by kind (with the first few in full).
public struct AnnotationReport: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var recordsSeen = 0
    public var recordsKept = 0
    public var skippedByKind: [AnnotationIssueKind: Int] = [:]
    /// The first ``exampleLimit`` issues, in file order.
    public var examples: [AnnotationIssue] = []
    public static let exampleLimit = 20

    public var recordsSkipped: Int { skippedByKind.values.reduce(0, +) }

    mutating func record(_ issue: AnnotationIssue) {
        skippedByKind[issue.kind, default: 0] += 1
        if examples.count < Self.exampleLimit { examples.append(issue) }
    }

    public var description: String {
        var text = "\(path): \(recordsKept) of \(recordsSeen) records kept"
        for kind in AnnotationIssueKind.allCases { if let count = skippedByKind[kind] { text += ", \(count) \(kind.rawValue)" } }
        return text
    }
}

/// Reads `annotations/{split}.json` record by record with a fixed read buffer, so that a file of a million
/// records never needs to be in memory at once. Each record is parsed alone and checked: an id (a non-empty
/// string, unique in the file), field types (`title`, `asr`, `category_id` strings; `ocr` an array of
/// `{"time": int, "text": string}`; `null` counts as absent) and, given a label space, a known category.
public struct AnnotationReader: Sendable {
    public var url: URL
    public var labelSpace: LabelSpace?
    public var policy: BadRecordPolicy
    /// Treat a record without `category_id` as bad (for labelled splits).
    public var requireCategory: Bool
    public var bufferSize: Int

    public init(
        url: URL, labelSpace: LabelSpace? = nil, policy: BadRecordPolicy = .stop, requireCategory: Bool = false,
        bufferSize: Int = 1 << 20
    ) {
        self.url = url
        self.labelSpace = labelSpace
        self.policy = policy
        self.requireCategory = requireCategory
        self.bufferSize = bufferSize
    }

    /// Calls `body` with each good record in file order and returns the report.
    @discardableResult
    public func forEach(_ body: (VideoAnnotation) throws -> Void) throws -> AnnotationReport {
        var stream = try JSONArrayStream(path: url.path, bufferSize: bufferSize)
        var report = AnnotationReport(path: url.path)
        var seenIds = VideoIDSet()
        while let element = try stream.next() {
            report.recordsSeen += 1
            do {
                let record = try decode(element)
                if !seenIds.insert(record.id) {
                    throw issue(.duplicateId, element, id: record.id, "the id appears earlier in the file; ids must be unique")
                }
                try body(record)
                report.recordsKept += 1
            } catch let problem as AnnotationIssue {
                if policy == .stop { throw problem }
                report.record(problem)
            }
        }
        return report
    }

    /// All good records in file order, with the report.
    public func readAll() throws -> (records: [VideoAnnotation], report: AnnotationReport) {
        var records: [VideoAnnotation] = []
        let report = try forEach { records.append($0) }
        return (records, report)
    }

    private func issue(
        _ kind: AnnotationIssueKind, _ element: JSONArrayStream.Element, id: String? = nil, _ detail: String
    ) -> AnnotationIssue {
        AnnotationIssue(kind: kind, path: url.path, recordIndex: element.index, line: element.line, id: id, detail: detail)
    }

    private func decode(_ element: JSONArrayStream.Element) throws -> VideoAnnotation {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(element.bytes), options: [.fragmentsAllowed])
        } catch {
            let excerpt = String(decoding: element.bytes.prefix(80), as: UTF8.self)
            throw issue(.malformedRecord, element, "cannot parse the record as JSON (begins: \(excerpt))")
        }
        guard let object = parsed as? [String: Any] else {
            throw issue(.wrongFieldType, element, "the record is \(Self.typeName(parsed)), expected an object {\"id\": ...}")
        }
        let rawId = object["id"]
        guard let rawId, !(rawId is NSNull) else {
            throw issue(.missingId, element, "the record has no \"id\"; every record needs its video id")
        }
        guard let id = rawId as? String else {
            throw issue(.wrongFieldType, element, "\"id\" is \(Self.typeName(rawId)), expected a string such as \"13477278056527828998\"")
        }
        guard !id.isEmpty else { throw issue(.missingId, element, "\"id\" is an empty string") }

        func text(_ key: String) throws -> String? {
            guard let value = object[key], !(value is NSNull) else { return nil }
            guard let string = value as? String, !Self.isBoolean(value) else {
                throw issue(.wrongFieldType, element, id: id, "\"\(key)\" is \(Self.typeName(value)), expected a string")
            }
            return string
        }

        let categoryId = try text("category_id")
        if let categoryId, let labelSpace, !labelSpace.contains(categoryId) {
            throw issue(.unknownCategory, element, id: id,
                        "category_id '\(categoryId)' is not in the label space; \(labelSpace.hintForUnknown(categoryId))")
        }
        if categoryId == nil && requireCategory {
            throw issue(.missingCategory, element, id: id, "the record has no \"category_id\"; this split must be labelled")
        }
        var segments: [OCRSegment] = []
        if let rawOCR = object["ocr"], !(rawOCR is NSNull) {
            guard let list = rawOCR as? [Any] else {
                throw issue(.wrongFieldType, element, id: id,
                            "\"ocr\" is \(Self.typeName(rawOCR)), expected an array of {\"time\": int, \"text\": string}")
            }
            segments.reserveCapacity(list.count)
            for (position, entry) in list.enumerated() {
                guard let segment = entry as? [String: Any] else {
                    throw issue(.wrongFieldType, element, id: id,
                                "ocr[\(position)] is \(Self.typeName(entry)), expected {\"time\": int, \"text\": string}")
                }
                let time = try Self.integer(segment["time"]) ?? {
                    throw issue(.wrongFieldType, element, id: id,
                                "ocr[\(position)].time is \(Self.typeName(segment["time"])), expected an integer")
                }()
                let rawText = segment["text"]
                var text = ""
                if let rawText, !(rawText is NSNull) {
                    guard let string = rawText as? String, !Self.isBoolean(rawText) else {
                        throw issue(.wrongFieldType, element, id: id,
                                    "ocr[\(position)].text is \(Self.typeName(rawText)), expected a string")
                    }
                    text = string
                }
                segments.append(OCRSegment(time: time, text: text))
            }
        }
        return VideoAnnotation(
            id: id, categoryId: categoryId, title: try text("title") ?? "", asr: try text("asr") ?? "", ocr: segments)
    }

    /// An integral JSON number as Int; nil for anything else (absent, null, fractional, string, boolean).
    private static func integer(_ value: Any?) -> Int? {
        guard let value, !isBoolean(value), !(value is String) else { return nil }
        if let int = value as? Int { return int }
        if let double = value as? Double, double.rounded() == double, abs(double) < 9e15 { return Int(double) }
        return nil
    }

    private static func isBoolean(_ value: Any) -> Bool {
        if value is Bool, !(value is Int) { return true }
        if let number = value as? NSNumber, String(cString: number.objCType) == "c" { return true }
        return false
    }

    static func typeName(_ value: Any?) -> String {
        guard let value else { return "absent" }
        switch value {
        case is NSNull: return "null"
        case is String: return "a string"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        default: return isBoolean(value) ? "a boolean" : "a number"
        }
    }
}
