import Foundation

/// A K-fold split of labelled videos, stratified by level-2 label: within each class the videos are
/// shuffled with ``SplitMix64`` from the seed and dealt round-robin, so every class is spread over the
/// folds evenly (counts differ by at most one) and fold sizes differ by at most one. The split depends
/// only on the (id, label) pairs and the seed, not on their order. Saved as `folds.json` and checked
/// against the data set's ids when read back.
public struct FoldAssignment: Sendable, Equatable {
    public let seed: UInt64
    /// Ids of each fold, in dealing order.
    public let folds: [[String]]
    private let foldById: [String: Int]

    public var foldCount: Int { folds.count }

    init(seed: UInt64, folds: [[String]]) {
        self.seed = seed
        self.folds = folds
        var foldById: [String: Int] = [:]
        for (fold, ids) in folds.enumerated() { for id in ids { foldById[id] = fold } }
        self.foldById = foldById
    }

    public static func == (lhs: FoldAssignment, rhs: FoldAssignment) -> Bool {
        lhs.seed == rhs.seed && lhs.folds == rhs.folds
    }

    /// Stratified K-fold over `(id, level-2 label)` pairs.
    /// - Throws: ``FoldError`` for fewer than 2 folds, more folds than videos, or a repeated id.
    public static func stratified(ids: [String], labels: [String], foldCount: Int, seed: UInt64) throws -> FoldAssignment {
        precondition(ids.count == labels.count, "FoldAssignment.stratified: \(ids.count) ids for \(labels.count) labels")
        guard foldCount >= 2 else { throw FoldError.invalid(source: "fold split", problem: "fold count \(foldCount); use 2 or more") }
        guard ids.count >= foldCount else {
            throw FoldError.invalid(source: "fold split", problem: "\(ids.count) videos cannot fill \(foldCount) folds")
        }
        var idsByLabel: [String: [String]] = [:]
        var seen = Set<String>()
        for (id, label) in zip(ids, labels) {
            guard seen.insert(id).inserted else {
                throw FoldError.invalid(source: "fold split", problem: "id \(id) appears twice; ids must be unique")
            }
            idsByLabel[label, default: []].append(id)
        }
        var generator = SplitMix64(seed: seed)
        var folds = [[String]](repeating: [], count: foldCount)
        var dealt = 0
        for label in idsByLabel.keys.sorted() {
            var members = idsByLabel[label]!.sorted()
            generator.shuffle(&members)
            for member in members {
                folds[dealt % foldCount].append(member)
                dealt += 1
            }
        }
        return FoldAssignment(seed: seed, folds: folds)
    }

    /// Stratified K-fold over labelled records; a record without `category_id` throws.
    public static func stratified(records: [VideoAnnotation], foldCount: Int, seed: UInt64) throws -> FoldAssignment {
        var labels: [String] = []
        labels.reserveCapacity(records.count)
        for record in records {
            guard let label = record.categoryId else {
                throw FoldError.invalid(source: "fold split", problem: "video \(record.id) has no category_id; folds need labelled videos")
            }
            labels.append(label)
        }
        return try stratified(ids: records.map(\.id), labels: labels, foldCount: foldCount, seed: seed)
    }

    /// The fold holding `id`, or nil.
    public func fold(of id: String) -> Int? { foldById[id] }

    /// Ids held out in fold `fold`.
    public func validationIds(fold: Int) -> [String] { folds[fold] }

    /// Ids of every other fold.
    public func trainingIds(fold: Int) -> [String] {
        folds.enumerated().filter { $0.offset != fold }.flatMap(\.element)
    }

    // MARK: folds.json

    private struct File: Codable {
        var format: String
        var version: Int
        var seed: UInt64
        var fold_count: Int
        var stratified_by: String
        var folds: [[String]]
    }

    static let formatName = "vidtag-folds"

    /// Writes `folds.json`.
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let file = File(format: Self.formatName, version: 1, seed: seed, fold_count: foldCount, stratified_by: "category_id", folds: folds)
        try encoder.encode(file).write(to: url, options: .atomic)
    }

    /// Reads `folds.json` and checks it against the data set's ids: every id in exactly one fold, no
    /// other ids.
    public static func read(from url: URL, expectedIds: [String]) throws -> FoldAssignment {
        let source = url.path
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        } catch {
            throw FoldError.invalid(source: source, problem: "not a folds file (\(error)); write one with FoldAssignment.write(to:)")
        }
        guard file.format == formatName, file.version == 1 else {
            throw FoldError.invalid(source: source, problem: "format '\(file.format)' version \(file.version); expected '\(formatName)' version 1")
        }
        guard file.fold_count == file.folds.count, file.fold_count >= 2 else {
            throw FoldError.invalid(source: source, problem: "fold_count \(file.fold_count) but \(file.folds.count) folds listed")
        }
        let assignment = FoldAssignment(seed: file.seed, folds: file.folds)
        let listed = file.folds.reduce(0) { $0 + $1.count }
        if listed != assignment.foldById.count {
            var seen: [String: Int] = [:]
            for (fold, ids) in file.folds.enumerated() {
                for id in ids {
                    if let first = seen[id] {
                        throw FoldError.mismatch(source: source, problem: "id \(id) is in fold \(first) and again in fold \(fold)")
                    }
                    seen[id] = fold
                }
            }
        }
        let expected = Set(expectedIds)
        if let stranger = file.folds.joined().first(where: { !expected.contains($0) }) {
            throw FoldError.mismatch(source: source, problem: "id \(stranger) is in the folds but not in the data set")
        }
        let missing = expectedIds.filter { assignment.foldById[$0] == nil }
        if !missing.isEmpty {
            throw FoldError.mismatch(
                source: source, problem: "\(missing.count) ids of the data set are in no fold (first: \(missing.prefix(3).joined(separator: ", ")))")
        }
        return assignment
    }
}

/// A fold split that cannot be made, or a folds file that does not fit the data.
public enum FoldError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(source: String, problem: String)
    case mismatch(source: String, problem: String)

    public var description: String {
        switch self {
        case .invalid(let source, let problem): "\(source): \(problem)"
        case .mismatch(let source, let problem):
            "\(source): \(problem). The folds were made for other data; delete the file to make new folds."
        }
    }
}
