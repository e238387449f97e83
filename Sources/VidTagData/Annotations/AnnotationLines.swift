import Foundation

/// Annotation records as JSON lines — one record object per line, blank lines skipped — as a
/// pipeline writes them (`vidtag predict --input -`). Each line is checked as ``AnnotationReader``
/// checks a record of an annotation file (id, field types, known category); a bad line throws an
/// ``AnnotationIssue`` naming the source and the line.
public struct AnnotationLines: Sendable {
    /// The name errors give for the input: a path, or `standard input`.
    public var source: String
    public var labelSpace: LabelSpace?

    public init(source: String, labelSpace: LabelSpace? = nil) {
        self.source = source
        self.labelSpace = labelSpace
    }

    /// Every record of `data`, in order; ids must be unique.
    public func records(in data: Data) throws -> [VideoAnnotation] {
        let reader = AnnotationReader(url: URL(fileURLWithPath: source), labelSpace: labelSpace, policy: .stop)
        var records: [VideoAnnotation] = []
        var seen = Set<String>()
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let bytes = [UInt8](line)
            guard bytes.contains(where: { ![0x20, 0x09, 0x0D].contains($0) }) else { continue }
            let record = try reader.decode(JSONArrayStream.Element(bytes: bytes, index: records.count, line: lineNumber))
            guard seen.insert(record.id).inserted else {
                throw AnnotationIssue(kind: .duplicateId, path: source, recordIndex: records.count, line: lineNumber,
                                      id: record.id, detail: "the id appears on an earlier line; ids must be unique")
            }
            records.append(record)
        }
        return records
    }
}
