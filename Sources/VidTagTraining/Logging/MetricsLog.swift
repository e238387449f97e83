import Foundation

/// One line of `metrics.jsonl`: a training step's loss or an evaluation's scores.
public struct MetricsRecord: Codable, Sendable, Equatable {
    public var kind: String
    public var step: Int
    public var epoch: Int
    public var values: [String: Double]

    public init(kind: String, step: Int, epoch: Int, values: [String: Double]) {
        self.kind = kind
        self.step = step
        self.epoch = epoch
        self.values = values
    }
}

/// Appends records as JSON lines, flushed after each, so a crash keeps everything logged before it.
public final class MetricsLog {
    public let url: URL
    private let handle: FileHandle

    public init(url: URL) throws {
        self.url = url
        if !FileManager.default.fileExists(atPath: url.path) {
            FileManager.default.createFile(atPath: url.path, contents: nil)
        }
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    public func append(_ record: MetricsRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var line = try encoder.encode(record)
        line.append(0x0A)
        try handle.write(contentsOf: line)
    }

    /// Every record of a log file; a torn last line (from a crash) is ignored.
    public static func read(_ url: URL) throws -> [MetricsRecord] {
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(MetricsRecord.self, from: Data($0.utf8)) }
    }

    /// Keeps only records up to `step` (used when a run resumes from an earlier checkpoint).
    public static func truncate(_ url: URL, afterStep step: Int) throws {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let kept = try read(url).filter { $0.step <= step }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = Data()
        for record in kept {
            data.append(try encoder.encode(record))
            data.append(0x0A)
        }
        try data.write(to: url, options: .atomic)
    }
}
