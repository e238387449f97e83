import Foundation

/// Precision, recall, F1 and support of one class, as scikit-learn's `precision_recall_fscore_support`
/// computes them (a ratio with a zero denominator is 0).
public struct ClassScore: Sendable, Equatable, Codable {
    public var label: String
    public var precision: Double
    public var recall: Double
    public var f1: Double
    /// Videos of this class in the truth.
    public var support: Int
    /// Videos predicted as this class.
    public var predicted: Int
}

/// Single-label multi-class scores with scikit-learn's definitions. The classes are the sorted union of
/// the labels in truth and prediction (sklearn's `labels=None`), so a class that appears in neither is
/// left out of the macro average.
public struct F1Report: Sendable, Equatable, Codable {
    /// Per-class scores, sorted by label.
    public var classes: [ClassScore]
    /// Micro-averaged F1 (equals accuracy for single-label data).
    public var microF1: Double
    /// Unweighted mean of the per-class F1 values.
    public var macroF1: Double
    public var macroPrecision: Double
    public var macroRecall: Double
    public var accuracy: Double
    public var sampleCount: Int

    enum CodingKeys: String, CodingKey {
        case classes, microF1 = "micro_f1", macroF1 = "macro_f1", macroPrecision = "macro_precision"
        case macroRecall = "macro_recall", accuracy, sampleCount = "sample_count"
    }

    /// Scores `predicted` against `truth`, position by position.
    /// - Throws: ``MetricError`` for inputs of different lengths or empty inputs (sklearn refuses both).
    public static func compute(truth: [String], predicted: [String]) throws -> F1Report {
        guard truth.count == predicted.count else {
            throw MetricError.lengthMismatch(truth: truth.count, predicted: predicted.count)
        }
        guard !truth.isEmpty else { throw MetricError.empty }
        var truePositives: [String: Int] = [:]
        var support: [String: Int] = [:]
        var predictedCount: [String: Int] = [:]
        var correct = 0
        for (actual, guess) in zip(truth, predicted) {
            support[actual, default: 0] += 1
            predictedCount[guess, default: 0] += 1
            if actual == guess {
                truePositives[actual, default: 0] += 1
                correct += 1
            }
        }
        let labels = Set(support.keys).union(predictedCount.keys).sorted()
        let classes = labels.map { label -> ClassScore in
            let tp = truePositives[label] ?? 0, inTruth = support[label] ?? 0, inPrediction = predictedCount[label] ?? 0
            let falsePositives = inPrediction - tp, falseNegatives = inTruth - tp
            return ClassScore(
                label: label,
                precision: ratio(tp, inPrediction),
                recall: ratio(tp, inTruth),
                f1: ratio(2 * tp, 2 * tp + falsePositives + falseNegatives),
                support: inTruth, predicted: inPrediction)
        }
        let n = truth.count
        // Micro: pooled counts; for single-label data pooled false positives = pooled false negatives = n − correct.
        let micro = ratio(2 * correct, 2 * correct + 2 * (n - correct))
        return F1Report(
            classes: classes,
            microF1: micro,
            macroF1: mean(classes.map(\.f1)),
            macroPrecision: mean(classes.map(\.precision)),
            macroRecall: mean(classes.map(\.recall)),
            accuracy: Double(correct) / Double(n),
            sampleCount: n)
    }

    private static func ratio(_ numerator: Int, _ denominator: Int) -> Double {
        denominator == 0 ? 0 : Double(numerator) / Double(denominator)
    }

    private static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }

    /// A text table in the spirit of sklearn's `classification_report`.
    public func table(digits: Int = 4) -> String {
        let width = max(12, (classes.map(\.label.count).max() ?? 0) + 2)
        func number(_ value: Double) -> String { String(format: "%\(digits + 6).\(digits)f", value) }
        func pad(_ text: String, _ count: Int) -> String { String(repeating: " ", count: max(0, count - text.count)) + text }
        var lines = [pad("", width) + pad("precision", digits + 6) + pad("recall", digits + 6) + pad("f1-score", digits + 6) + pad("support", 10), ""]
        for score in classes {
            lines.append(pad(score.label, width) + number(score.precision) + number(score.recall) + number(score.f1) + pad(String(score.support), 10))
        }
        lines.append("")
        lines.append(pad("accuracy", width) + pad("", 2 * (digits + 6)) + number(accuracy) + pad(String(sampleCount), 10))
        lines.append(pad("macro avg", width) + number(macroPrecision) + number(macroRecall) + number(macroF1) + pad(String(sampleCount), 10))
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The WeChat Big Data Challenge 2022 score: the mean of level-1 micro F1, level-1 macro F1, level-2 micro
/// F1 and level-2 macro F1, the level-1 id being the first two characters of the level-2 id.
public struct ChallengeScore: Sendable, Equatable, Codable {
    public var level1: F1Report
    public var level2: F1Report

    public var level1MicroF1: Double { level1.microF1 }
    public var level1MacroF1: Double { level1.macroF1 }
    public var level2MicroF1: Double { level2.microF1 }
    public var level2MacroF1: Double { level2.macroF1 }
    /// The challenge score.
    public var mean: Double { (level1MicroF1 + level1MacroF1 + level2MicroF1 + level2MacroF1) / 4 }

    /// Scores level-2 predictions against level-2 truth.
    public static func compute(truth: [String], predicted: [String]) throws -> ChallengeScore {
        ChallengeScore(
            level1: try F1Report.compute(truth: truth.map(LabelSpace.level1Id(ofLevel2Id:)),
                                         predicted: predicted.map(LabelSpace.level1Id(ofLevel2Id:))),
            level2: try F1Report.compute(truth: truth, predicted: predicted))
    }

    /// Scores class indices of `labelSpace`.
    public static func compute(truthIndices: [Int], predictedIndices: [Int], labelSpace: LabelSpace) throws -> ChallengeScore {
        try compute(truth: truthIndices.map { labelSpace.level2Ids[$0] }, predicted: predictedIndices.map { labelSpace.level2Ids[$0] })
    }

    /// One line: the score and its four parts.
    public var summary: String {
        String(format: "score %.4f (level 1 micro %.4f macro %.4f, level 2 micro %.4f macro %.4f)",
               mean, level1MicroF1, level1MacroF1, level2MicroF1, level2MacroF1)
    }
}

/// Inputs the metric cannot score.
public enum MetricError: Error, Sendable, Equatable, CustomStringConvertible {
    case lengthMismatch(truth: Int, predicted: Int)
    case empty

    public var description: String {
        switch self {
        case .lengthMismatch(let truth, let predicted):
            "cannot score \(predicted) predictions against \(truth) true labels; give one prediction per video"
        case .empty: "cannot score an empty set of predictions (scikit-learn refuses too); is the split empty?"
        }
    }
}
