import Foundation
import VidTagData
import VidTagTraining

/// What `GET /v1/model` tells beyond the model's name and classes, read once from its run folder when the
/// model loads: the training settings, every held-out evaluation, the best one's per-class scores, and
/// whether the run's curves (`curves.svg`) are there. A model folder without a run's files gets an
/// empty card; a file that does not read is left out, never an error (the model itself loaded).
struct ModelCard: Encodable, Sendable {
    /// `run_config.json` (else `config.json`) flattened to dotted keys, in file order: `[["train.lr", "5e-05"], …]`.
    var settings: [[String]]
    /// Which file ``settings`` came from.
    var settingsFile: String?
    /// The held-out fold (`data_settings.json`), nil when the model trained on the whole split.
    var heldOutFold: Int?
    /// Every `eval` line of `metrics.jsonl`, in step order.
    var evaluations: [Evaluation]
    /// The step of the best evaluation (the saved weights).
    var bestStep: Int?
    /// The best evaluation's per-class scores (`best_report.json`), both levels.
    var bestReport: ChallengeScore?
    /// Whether `GET /model/curves.svg` has the run's curves.
    var hasCurves: Bool

    struct Evaluation: Encodable, Sendable {
        var step: Int
        var epoch: Int
        var values: [String: Double]
    }

    enum CodingKeys: String, CodingKey {
        case settings, settingsFile = "settings_file", heldOutFold = "held_out_fold", evaluations, bestStep = "best_step"
        case bestReport = "best_report", hasCurves = "has_curves"
    }

    static func read(folder: URL) -> ModelCard {
        let run = RunFolder(folder)
        let settingsURL = [run.configURL, run.model.configURL].first { FileManager.default.fileExists(atPath: $0.path) }
        let settings = settingsURL.flatMap { try? Data(contentsOf: $0) }
            .flatMap { try? JSONDecoder().decode(SettingValue.self, from: $0) }
            .map { flatten($0, prefix: "") } ?? []
        let data = (try? Data(contentsOf: run.model.dataSettingsURL)).flatMap { try? JSONDecoder().decode(ModelDataSettings.self, from: $0) }
        let evaluations = ((try? MetricsLog.read(run.metricsURL)) ?? []).filter { $0.kind == "eval" }
            .map { Evaluation(step: $0.step, epoch: $0.epoch, values: $0.values) }
        let best = evaluations.max { ($0.values["score"] ?? -1) < ($1.values["score"] ?? -1) }
        let report = (try? Data(contentsOf: run.bestScoreURL)).flatMap { try? JSONDecoder().decode(ChallengeScore.self, from: $0) }
        return ModelCard(settings: settings, settingsFile: settingsURL?.lastPathComponent, heldOutFold: data?.heldOutFold,
                         evaluations: evaluations, bestStep: best?.step, bestReport: report,
                         hasCurves: FileManager.default.fileExists(atPath: run.plotURL.path))
    }

    /// The run's curves as SVG, when the run wrote them.
    static func curves(folder: URL) -> Data? { try? Data(contentsOf: RunFolder(folder).plotURL) }

    /// `{"train": {"lr": 5e-05}}` → `[["train.lr", "5e-05"]]`, keys sorted; arrays stay one value.
    private static func flatten(_ value: SettingValue, prefix: String) -> [[String]] {
        if case .object(let members) = value {
            return members.keys.sorted().flatMap { flatten(members[$0]!, prefix: prefix.isEmpty ? $0 : "\(prefix).\($0)") }
        }
        return [[prefix, value.text]]
    }
}

/// A value of a settings file, to show it as text.
private indirect enum SettingValue: Decodable {
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([SettingValue])
    case object([String: SettingValue])
    case null

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([SettingValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: SettingValue].self)) }
    }

    var text: String {
        switch self {
        case .bool(let value): "\(value)"
        case .integer(let value): "\(value)"
        case .number(let value): "\(value)"
        case .string(let value): value
        case .array(let values): "[" + values.map(\.text).joined(separator: ", ") + "]"
        case .object(let members): "{" + members.keys.sorted().map { "\($0): \(members[$0]!.text)" }.joined(separator: ", ") + "}"
        case .null: "null"
        }
    }
}
