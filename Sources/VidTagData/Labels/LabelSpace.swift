import Foundation

/// The classes a model predicts: level-2 category ids in a fixed order (index = class index) and the
/// level-1 ids derived from them (the first two characters of a level-2 id, as in the WeChat data).
///
/// Use ``wechat2022`` for the challenge's 200 classes, or read a data set's own label file
/// (``init(contentsOf:)``), a JSON object of the same shape as `wechat2022_categories.json`:
/// `{"category_ids": ["0000", ...], "labeled_count": [502, ...]}` (`labeled_count` optional).
public struct LabelSpace: Sendable, Equatable {
    /// Level-2 category ids in class-index order.
    public let level2Ids: [String]
    /// Labelled videos per level-2 class (same order), when known.
    public let level2Counts: [Int]?
    /// Level-1 ids in order of first appearance among the level-2 ids.
    public let level1Ids: [String]
    /// For each level-2 class index, the index of its level-1 class.
    public let level1IndexOfLevel2Index: [Int]

    private let level2IndexById: [String: Int]
    private let level1IndexById: [String: Int]

    /// The number of level-2 classes.
    public var level2Count: Int { level2Ids.count }
    /// The number of level-1 classes.
    public var level1Count: Int { level1Ids.count }

    /// Builds a label space from level-2 ids in class-index order.
    /// - Throws: ``LabelSpaceError`` for an empty list, an empty or duplicate id, or counts whose length
    ///   differs from the ids'.
    public init(level2Ids: [String], level2Counts: [Int]? = nil, source: String = "label space") throws {
        guard !level2Ids.isEmpty else { throw LabelSpaceError.invalid(source: source, problem: "no category ids") }
        var level2IndexById: [String: Int] = [:]
        var level1IndexById: [String: Int] = [:]
        var level1Ids: [String] = []
        var level1Index: [Int] = []
        for (index, id) in level2Ids.enumerated() {
            guard !id.isEmpty else {
                throw LabelSpaceError.invalid(source: source, problem: "category id at index \(index) is empty")
            }
            if let first = level2IndexById[id] {
                throw LabelSpaceError.invalid(
                    source: source, problem: "category id '\(id)' appears at index \(first) and again at \(index)")
            }
            level2IndexById[id] = index
            let parent = Self.level1Id(ofLevel2Id: id)
            if let existing = level1IndexById[parent] {
                level1Index.append(existing)
            } else {
                level1IndexById[parent] = level1Ids.count
                level1Index.append(level1Ids.count)
                level1Ids.append(parent)
            }
        }
        if let counts = level2Counts {
            guard counts.count == level2Ids.count else {
                throw LabelSpaceError.invalid(
                    source: source,
                    problem: "\(counts.count) counts for \(level2Ids.count) category ids; give one count per id")
            }
            if let negative = counts.firstIndex(where: { $0 < 0 }) {
                throw LabelSpaceError.invalid(
                    source: source, problem: "count \(counts[negative]) of '\(level2Ids[negative])' is negative")
            }
        }
        self.level2Ids = level2Ids
        self.level2Counts = level2Counts
        self.level1Ids = level1Ids
        self.level1IndexOfLevel2Index = level1Index
        self.level2IndexById = level2IndexById
        self.level1IndexById = level1IndexById
    }

    /// The WeChat Big Data Challenge 2022 label space: 200 level-2 ids, 23 level-1 ids, with the class
    /// counts of the 100,000 labelled videos.
    public static let wechat2022: LabelSpace = {
        let table = WeChat2022Categories.idsAndLabeledCounts
        // The table is a compile-time constant checked by LabelTests; it cannot fail.
        return try! LabelSpace(
            level2Ids: table.map(\.id), level2Counts: table.map(\.count), source: "built-in WeChat 2022 table")
    }()

    /// The label space of a data root: its own `labels.json` when it has one (the demo data does), else the
    /// built-in WeChat 2022 table.
    public init(for data: DataRoot) throws {
        let own = data.url.appendingPathComponent(Self.dataRootFileName)
        if FileManager.default.fileExists(atPath: own.path) {
            try self.init(contentsOf: own)
        } else {
            self = .wechat2022
        }
    }

    /// The label file a data root may carry.
    public static let dataRootFileName = "labels.json"

    /// The level-1 id of a level-2 id: its first two characters.
    public static func level1Id(ofLevel2Id id: String) -> String { String(id.prefix(2)) }

    /// The class index of a level-2 id, or nil when the id is not in this label space.
    public func level2Index(of id: String) -> Int? { level2IndexById[id] }

    /// The index of a level-1 id, or nil when unknown.
    public func level1Index(of id: String) -> Int? { level1IndexById[id] }

    /// Whether a level-2 id belongs to this label space.
    public func contains(_ level2Id: String) -> Bool { level2IndexById[level2Id] != nil }

    /// Level-2 class counts of a collection of labels; an id outside the label space throws.
    public func level2Counts<Labels: Sequence>(of labels: Labels) throws -> [Int] where Labels.Element == String {
        var counts = [Int](repeating: 0, count: level2Count)
        for label in labels {
            guard let index = level2IndexById[label] else {
                throw LabelSpaceError.unknownCategory(id: label, hint: hintForUnknown(label))
            }
            counts[index] += 1
        }
        return counts
    }

    /// The same label space with class counts replaced by those computed from `labels`.
    public func withCounts<Labels: Sequence>(from labels: Labels) throws -> LabelSpace where Labels.Element == String {
        try LabelSpace(level2Ids: level2Ids, level2Counts: level2Counts(of: labels))
    }

    func hintForUnknown(_ id: String) -> String {
        "the label space has \(level2Count) ids from '\(level2Ids.first!)' to '\(level2Ids.last!)'"
    }

    // MARK: Label file

    private struct LabelFile: Codable {
        var note: String?
        var category_ids: [String]
        var labeled_count: [Int]?
    }

    /// Reads a label file: `{"category_ids": [...], "labeled_count": [...]}`.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LabelSpaceError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        let file: LabelFile
        do { file = try JSONDecoder().decode(LabelFile.self, from: data) } catch {
            throw LabelSpaceError.invalid(
                source: url.path,
                problem: "not a label file (\(error)); expected {\"category_ids\": [\"0000\", ...], \"labeled_count\": [...]}")
        }
        try self.init(level2Ids: file.category_ids, level2Counts: file.labeled_count, source: url.path)
    }

    /// Writes this label space as a label file readable by ``init(contentsOf:)``.
    public func write(to url: URL, note: String? = nil) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(LabelFile(note: note, category_ids: level2Ids, labeled_count: level2Counts))
        try data.write(to: url, options: .atomic)
    }
}

/// A label space that cannot be built or read, or a label outside it.
public enum LabelSpaceError: Error, CustomStringConvertible, Equatable {
    case invalid(source: String, problem: String)
    case unreadable(path: String, reason: String)
    case unknownCategory(id: String, hint: String)

    public var description: String {
        switch self {
        case .invalid(let source, let problem): "\(source): invalid label space: \(problem)"
        case .unreadable(let path, let reason): "\(path): cannot read label file: \(reason)"
        case .unknownCategory(let id, let hint): "unknown category id '\(id)' (\(hint))"
        }
    }
}
