import Foundation
import Testing
@testable import VidTagTraining

/// docs/config.md and docs/tricks.md document every setting: the docs cannot drift from `RunConfig` again.
@Suite("Configuration docs")
struct ConfigDocsTests {
    /// The documented keys: in each table row, backticked names; a bare name takes the section of the row's
    /// first dotted name (`data.title_tokens`, `asr_tokens` → data.asr_tokens); `*` matches within a name.
    static func documentedKeys() throws -> (exact: Set<String>, patterns: [String], rows: [String]) {
        var exact = Set<String>()
        var patterns: [String] = []
        var rows: [String] = []
        for name in ["config.md", "tricks.md"] {
            let text = try String(contentsOf: TrainingFixture.repository.appendingPathComponent("docs/\(name)"), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("|") {
                rows.append(String(line))
                let cells = line.split(separator: "|", omittingEmptySubsequences: false)
                guard cells.count > 2 else { continue }
                let names = String(cells[1] + "|" + cells[2]).split(separator: "`").enumerated()
                    .filter { $0.offset % 2 == 1 }.map { String($0.element) }
                var section: String?
                for name in names {
                    if name.contains(".") {
                        section = String(name.split(separator: ".").first!)
                    } else if let section {
                        let qualified = "\(section).\(name)"
                        if qualified.contains("*") { patterns.append(qualified) } else { exact.insert(qualified) }
                        continue
                    }
                    if name.contains("*") { patterns.append(name) } else { exact.insert(name) }
                }
            }
        }
        return (exact, patterns, rows)
    }

    static func leaves(_ node: [String: Any], _ path: [String] = []) -> [String] {
        node.keys.sorted().flatMap { key -> [String] in
            if let section = node[key] as? [String: Any] { return leaves(section, path + [key]) }
            return [(path + [key]).joined(separator: ".")]
        }
    }

    static func matches(_ key: String, pattern: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return false }
        return key.hasPrefix(parts[0]) && key.hasSuffix(parts[1]) && key.count >= parts[0].count + parts[1].count
    }

    @Test("every key of RunConfig is in docs/config.md or docs/tricks.md")
    func everyKeyIsDocumented() throws {
        let (exact, patterns, _) = try Self.documentedKeys()
        let keys = Self.leaves(try RunConfig().jsonTree())
        let missing = keys.filter { key in !exact.contains(key) && !patterns.contains { Self.matches(key, pattern: $0) } }
        #expect(missing.isEmpty, "not documented: \(missing.joined(separator: ", "))")
    }

    @Test("every value of a choice setting is named in its row")
    func everyChoiceIsDocumented() throws {
        let (_, _, rows) = try Self.documentedKeys()
        for (key, values) in RunConfig.choices {
            let section = String(key.split(separator: ".")[0]), name = String(key.split(separator: ".")[1])
            let row = rows.first { $0.contains("`\(key)`") || ($0.contains("`\(section).") && $0.contains("`\(name)`")) }
            let found = try #require(row, "no row for \(key)")
            for value in values { #expect(found.contains("`\(value)`"), "\(key): value \(value) not named in its row") }
        }
    }
}
