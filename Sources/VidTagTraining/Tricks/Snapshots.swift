import Foundation
import Torch

/// Weight snapshots taken at evaluations (`snapshots/step-N.safetensors` with `index.json`), keeping the
/// last k and the best k, for SWA: `vidtag average` writes their mean as a model.
public struct SnapshotSet {
    public struct Entry: Codable, Equatable, Sendable {
        public var step: Int
        public var score: Double
        public var file: String
    }

    public let folder: URL
    public init(folder: URL) { self.folder = folder }

    var indexURL: URL { folder.appendingPathComponent("index.json") }

    public func entries() throws -> [Entry] {
        guard FileManager.default.fileExists(atPath: indexURL.path) else { return [] }
        return try JSONDecoder().decode([Entry].self, from: Data(contentsOf: indexURL))
    }

    /// Saves the current weights of `store` and prunes to the last `keep` ∪ best `keep` snapshots.
    public func add(store: ParameterStore, step: Int, score: Double, keep: Int) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = "step-\(step).safetensors"
        try SafeTensors.save(store.stateDict(), to: folder.appendingPathComponent(file))
        var all = try entries().filter { $0.step != step } + [Entry(step: step, score: score, file: file)]
        let kept = Set(Self.last(keep, of: all).map(\.step)).union(Self.best(keep, of: all).map(\.step))
        for entry in all where !kept.contains(entry.step) {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(entry.file))
        }
        all = all.filter { kept.contains($0.step) }.sorted { $0.step < $1.step }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted]
        try AtomicFile.write(try encoder.encode(all), to: indexURL)
    }

    public static func last(_ k: Int, of entries: [Entry]) -> [Entry] {
        Array(entries.sorted { $0.step < $1.step }.suffix(k))
    }

    public static func best(_ k: Int, of entries: [Entry]) -> [Entry] {
        Array(entries.sorted { $0.score != $1.score ? $0.score > $1.score : $0.step > $1.step }.prefix(k))
    }

    /// The element-wise mean of the given snapshots' tensors (every snapshot must have the same keys).
    public func average(_ chosen: [Entry]) throws -> [String: Tensor] {
        guard !chosen.isEmpty else { throw ConfigError("\(folder.path): no snapshots to average") }
        var sums: [String: Tensor] = [:]
        for entry in chosen {
            let tensors = try SafeTensors.load(folder.appendingPathComponent(entry.file))
            if !sums.isEmpty, Set(tensors.keys) != Set(sums.keys) {
                throw ConfigError("\(entry.file) has other keys than the first snapshot: snapshots of different models")
            }
            for (name, tensor) in tensors {
                let value = tensor.to(.float64)
                sums[name] = sums[name].map { $0 + value } ?? value
            }
        }
        let first = try SafeTensors.load(folder.appendingPathComponent(chosen[0].file))
        return sums.mapValues { $0 / Double(chosen.count) }.reduce(into: [:]) { result, item in
            result[item.key] = item.value.to(first[item.key]!.dtype)
        }
    }
}
