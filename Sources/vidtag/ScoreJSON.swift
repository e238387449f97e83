import Foundation
import VidTagData

/// `vidtag evaluate --json` / `vidtag score --json`: the challenge score, its four F1 values, and both levels'
/// per-class reports, as one JSON object on one line (scripts read it as a JSON line).
enum ScoreJSON {
    static func text(_ score: ChallengeScore) throws -> String {
        func level(_ report: F1Report) -> [String: Any] {
            [
                "micro_f1": report.microF1, "macro_f1": report.macroF1, "macro_precision": report.macroPrecision,
                "macro_recall": report.macroRecall, "accuracy": report.accuracy, "samples": report.sampleCount,
                "classes": report.classes.map { [
                    "label": $0.label, "precision": $0.precision, "recall": $0.recall, "f1": $0.f1,
                    "support": $0.support, "predicted": $0.predicted,
                ] as [String: Any] },
            ]
        }
        let object: [String: Any] = [
            "score": score.mean, "level1_micro_f1": score.level1MicroF1, "level1_macro_f1": score.level1MacroF1,
            "level2_micro_f1": score.level2MicroF1, "level2_macro_f1": score.level2MacroF1,
            "level1": level(score.level1), "level2": level(score.level2),
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
