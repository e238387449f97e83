import Foundation
import Torch
import VidTagData
import VidTagModels

/// A configuration problem, naming the file or the key and what was expected.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension RunConfig {
    /// The defaults, overlaid with a JSON file (if any), then with `key.path=value` overrides in order.
    /// Every key must exist in the defaults; every value must have the default's type.
    public static func resolve(file: URL? = nil, overrides: [String] = []) throws -> RunConfig {
        var tree = try RunConfig().jsonTree()
        if let file {
            let data: Data
            do { data = try Data(contentsOf: file) } catch {
                throw ConfigError("cannot read config file \(file.path): \(error.localizedDescription)")
            }
            guard let user = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ConfigError("config file \(file.path) is not a JSON object")
            }
            try merge(user, into: &tree, path: [], source: file.path)
        }
        for override in overrides {
            guard let equals = override.firstIndex(of: "=") else {
                throw ConfigError("--set \(override): expected key.path=value, e.g. --set train.epochs=5")
            }
            let path = override[..<equals].split(separator: ".").map(String.init)
            let text = String(override[override.index(after: equals)...])
            try set(parseValue(text), at: path, in: &tree, source: "--set \(override)")
        }
        let config: RunConfig
        do {
            config = try decode(tree)
        } catch let error as ConfigError where error.description.hasPrefix("config key '':") {
            // The decoder names no key for a value it cannot represent (2.5 for an integer): find the key.
            throw try culprit(in: tree) ?? error
        }
        try config.validate()
        return config
    }

    /// Reads a resolved config saved in a run folder (all keys present, none unknown).
    public static func load(_ url: URL) throws -> RunConfig {
        try resolve(file: url)
    }

    func jsonTree() throws -> [String: Any] {
        let data = try JSONEncoder().encode(self)
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// Pretty, key-sorted JSON.
    public func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    private static func merge(_ user: [String: Any], into tree: inout [String: Any], path: [String], source: String) throws {
        for (key, value) in user {
            let here = path + [key]
            guard let existing = tree[key] else {
                throw ConfigError("\(source): unknown key '\(here.joined(separator: "."))'; known keys here: "
                    + tree.keys.sorted().joined(separator: ", "))
            }
            if var section = existing as? [String: Any] {
                guard let userSection = value as? [String: Any] else {
                    throw ConfigError("\(source): '\(here.joined(separator: "."))' must be an object")
                }
                try merge(userSection, into: &section, path: here, source: source)
                tree[key] = section
            } else {
                tree[key] = value
            }
        }
    }

    private static func set(_ value: Any, at path: [String], in tree: inout [String: Any], source: String) throws {
        guard let key = path.first else { throw ConfigError("\(source): empty key") }
        guard let existing = tree[key] else {
            throw ConfigError("\(source): unknown key '\(key)'; known keys here: " + tree.keys.sorted().joined(separator: ", "))
        }
        if path.count == 1 {
            guard !(existing is [String: Any]) else {
                throw ConfigError("\(source): '\(key)' is a section; set one of its keys: "
                    + (existing as! [String: Any]).keys.sorted().joined(separator: ", "))
            }
            tree[key] = value
        } else {
            guard var section = existing as? [String: Any] else {
                throw ConfigError("\(source): '\(key)' is not a section")
            }
            try set(value, at: Array(path.dropFirst()), in: &section, source: source)
            tree[key] = section
        }
    }

    /// JSON when it parses as JSON (numbers, true/false, quoted strings, arrays), else the plain string.
    private static func parseValue(_ text: String) -> Any {
        if let data = "[\(text)]".data(using: .utf8),
           let array = try? JSONSerialization.jsonObject(with: data) as? [Any], array.count == 1 {
            return array[0]
        }
        return text
    }

    private static func decode(_ tree: [String: Any]) throws -> RunConfig {
        let data = try JSONSerialization.data(withJSONObject: tree)
        do {
            return try JSONDecoder().decode(RunConfig.self, from: data)
        } catch let DecodingError.typeMismatch(type, context) {
            throw ConfigError("config key '\(keyPath(context.codingPath))': expected a value of type \(type)")
        } catch let DecodingError.dataCorrupted(context) {
            let key = keyPath(context.codingPath)
            if let choices = choices[key] {
                let value = context.codingPath.reduce(tree as Any) { node, key in (node as? [String: Any])?[key.stringValue] as Any }
                throw ConfigError("config key '\(key)' is '\(value)'; expected one of: \(choices.joined(separator: ", "))")
            }
            throw ConfigError("config key '\(key)': \(context.debugDescription)")
        } catch {
            throw ConfigError("config: \(error)")
        }
    }

    /// The first leaf of `tree` that alone, over the defaults, does not decode: named with its default.
    private static func culprit(in tree: [String: Any]) throws -> ConfigError? {
        let defaults = try RunConfig().jsonTree()
        func leaves(_ node: [String: Any], _ path: [String]) -> [([String], Any)] {
            node.keys.sorted().flatMap { key -> [([String], Any)] in
                if let section = node[key] as? [String: Any] { return leaves(section, path + [key]) }
                return [(path + [key], node[key]!)]
            }
        }
        func defaultValue(_ path: [String]) -> Any? {
            var node: Any? = defaults
            for key in path { node = (node as? [String: Any])?[key] }
            return node
        }
        for (path, value) in leaves(tree, []) {
            var single = defaults
            try? set(value, at: path, in: &single, source: "")
            if (try? decode(single)) == nil {
                let shown = (try? JSONSerialization.data(withJSONObject: [value], options: [.fragmentsAllowed]))
                    .map { String(decoding: $0, as: UTF8.self).dropFirst().dropLast() }.map(String.init) ?? "\(value)"
                return ConfigError("config key '\(path.joined(separator: "."))': \(shown) is not a valid value; "
                    + "the default is \(defaultValue(path).map { "\($0)" } ?? "?"), a value of the same type is expected")
            }
        }
        return nil
    }

    private static func keyPath(_ path: [CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }

    /// The keys that take one of a closed set of values, with the values (from the enums the config decodes).
    public static let choices: [String: [String]] = [
        "model.kind": ModelKind.allCases.map(\.rawValue),
        "model.modalities": Modalities.allCases.map(\.rawValue),
        "model.pooling": Pooling.allCases.map(\.rawValue),
        "train.schedule": LearningRateSchedule.Decay.allCases.map(\.rawValue),
        "train.precision": Precision.allCases.map(\.rawValue),
        "data.frame_source": FrameSourceKind.allCases.map(\.rawValue),
        "data.bad_record_policy": BadRecordPolicy.allCases.map(\.rawValue),
        "tricks.class_weighting": ClassWeighting.Kind.allCases.map(\.rawValue),
        "pretrain.mfm_similarity": MFMSimilarity.allCases.map(\.rawValue),
    ]

    /// Checks what the types alone do not: ranges and combinations.
    public func validate() throws {
        if model.kind == .baseline, tricks.headSamples > 1 {
            throw ConfigError("tricks.head_samples=\(tricks.headSamples) has no effect on model.kind=baseline: its classifier "
                + "has no dropout (the official baseline drops out before its fusion layer); leave it at 1, or use "
                + "model.kind=single_stream")
        }
        guard (0..<1).contains(tricks.emaDecay) else {
            throw ConfigError("tricks.ema_decay must be in [0, 1) (0 turns EMA off), got \(tricks.emaDecay)")
        }
        guard tricks.fgmEpsilon == 0 || tricks.pgdSteps == 0 else {
            throw ConfigError("tricks.fgm_epsilon and tricks.pgd_steps are both set: choose FGM or PGD")
        }
        guard train.batchSize > 0, train.gradientAccumulation > 0 else {
            throw ConfigError("train.batch_size and train.gradient_accumulation must be positive")
        }
        guard train.checkpointEvery >= 0, train.keepCheckpoints >= 1, train.earlyStoppingPatience >= 0 else {
            throw ConfigError("train.checkpoint_every and train.early_stopping_patience must be ≥ 0 and "
                + "train.keep_checkpoints ≥ 1 (got \(train.checkpointEvery), \(train.earlyStoppingPatience), "
                + "\(train.keepCheckpoints))")
        }
        guard model.hidden % model.heads == 0 else {
            throw ConfigError("model.hidden (\(model.hidden)) must be a multiple of model.heads (\(model.heads))")
        }
        guard data.labelFraction > 0, data.labelFraction <= 1 else {
            throw ConfigError("data.label_fraction must be in (0, 1], got \(data.labelFraction)")
        }
        if !model.initFrom.isEmpty, !model.textEncoder.isEmpty || !model.vocabulary.isEmpty {
            throw ConfigError("model.init brings its own text encoder and vocabulary: leave model.text_encoder and "
                + "model.vocabulary empty")
        }
        guard (0..<1).contains(data.validationFraction) else {
            throw ConfigError("data.validation_fraction must be in [0, 1), got \(data.validationFraction)")
        }
    }
}
