import Foundation

/// What to do with a bad record.
public enum BadRecordPolicy: String, Codable, Sendable, CaseIterable {
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

    func decode(_ element: JSONArrayStream.Element) throws -> VideoAnnotation {
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(element.bytes)
        } catch {
            let excerpt = String(decoding: element.bytes.prefix(80), as: UTF8.self)
            throw issue(.malformedRecord, element,
                        "cannot parse the record as JSON: \(error.problem) at byte \(error.offset) (begins: \(excerpt))")
        }
        guard case .object = parsed else {
            throw issue(.wrongFieldType, element, "the record is \(parsed.typeName), expected an object {\"id\": ...}")
        }
        guard let rawId = parsed["id"], rawId != .null else {
            throw issue(.missingId, element, "the record has no \"id\"; every record needs its video id")
        }
        guard case .string(let id) = rawId else {
            throw issue(.wrongFieldType, element, "\"id\" is \(rawId.typeName), expected a string such as \"13477278056527828998\"")
        }
        guard !id.isEmpty else { throw issue(.missingId, element, "\"id\" is an empty string") }

        func text(_ value: JSONValue?, _ name: String) throws -> String? {
            switch value {
            case nil, .null?: return nil
            case .string(let string)?: return string
            case let other?: throw issue(.wrongFieldType, element, id: id, "\(name) is \(other.typeName), expected a string")
            }
        }

        let categoryId = try text(parsed["category_id"], "\"category_id\"")
        if let categoryId, let labelSpace, !labelSpace.contains(categoryId) {
            throw issue(.unknownCategory, element, id: id,
                        "category_id '\(categoryId)' is not in the label space; \(labelSpace.hintForUnknown(categoryId))")
        }
        if categoryId == nil && requireCategory {
            throw issue(.missingCategory, element, id: id, "the record has no \"category_id\"; this split must be labelled")
        }
        var segments: [OCRSegment] = []
        switch parsed["ocr"] {
        case nil, .null?:
            break
        case .array(let list)?:
            segments.reserveCapacity(list.count)
            for (position, entry) in list.enumerated() {
                guard case .object = entry else {
                    throw issue(.wrongFieldType, element, id: id,
                                "ocr[\(position)] is \(entry.typeName), expected {\"time\": int, \"text\": string}")
                }
                let time: Int
                switch entry["time"] {
                case .integer(let value)?: time = value
                case .double(let value)? where value.rounded() == value && abs(value) < 9e15: time = Int(value)
                case let other:
                    throw issue(.wrongFieldType, element, id: id,
                                "ocr[\(position)].time is \(other?.typeName ?? "absent"), expected an integer")
                }
                segments.append(OCRSegment(time: time, text: try text(entry["text"], "ocr[\(position)].text") ?? ""))
            }
        case let other?:
            throw issue(.wrongFieldType, element, id: id,
                        "\"ocr\" is \(other.typeName), expected an array of {\"time\": int, \"text\": string}")
        }
        return VideoAnnotation(
            id: id, categoryId: categoryId, title: try text(parsed["title"], "\"title\"") ?? "",
            asr: try text(parsed["asr"], "\"asr\"") ?? "", ocr: segments)
    }
}
