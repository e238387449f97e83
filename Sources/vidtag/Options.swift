import ArgumentParser
import Foundation
import Torch
import VidTagTraining

/// How every command that runs models names them: the same forms for `evaluate`, `predict`, `tune-boost`.
struct ModelOptions: ParsableArguments {
    @Option(help: "A model or run folder, or a K-fold folder (standing for its fold models); repeat for an ensemble.")
    var model: [String]
    @Option(help: "Ensemble weights, comma-separated: one per model (a K-fold folder counts as its folds), or one per --model (default: equal).")
    var weights: String?
    @Option(help: "Ensemble averaging: \(Ensemble.Averaging.allCases.map(\.rawValue).joined(separator: " or ")).")
    var average: Ensemble.Averaging = .probabilities
    @Option(help: "A boost.json from `vidtag tune-boost`: rescales small classes' probabilities.") var boost: String?
    @Option(help: "cpu, cuda or cuda:N.") var device = "cpu"
    @Option(help: "Inference precision: fp32, or bf16 / fp16 under autocast.") var dtype = "fp32"

    func selection() throws -> ModelSelection {
        let weightValues = try weights.map { text in
            try text.split(separator: ",").map { part -> Double in
                guard let value = Double(part.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--weights \(text): '\(part)' is not a number")
                }
                return value
            }
        }
        return try ModelSelection(models: model, weights: weightValues, averaging: average,
                                  boost: boost.map { URL(fileURLWithPath: $0) })
    }

    func parsedDevice() throws -> Device { try Device(parsing: device, setting: "--device") }

    /// The autocast dtype, nil for fp32.
    func castType() throws -> DType? {
        guard let type = DType(name: dtype), [.float32, .bfloat16, .float16].contains(type) else {
            throw ValidationError("--dtype \(dtype): expected fp32, bf16 or fp16")
        }
        return type == .float32 ? nil : type
    }
}

extension Ensemble.Averaging: ExpressibleByArgument {}

/// What a long-running command shows a person, or a machine.
struct OutputOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Flag(help: "Print only warnings, errors and the final result.") var quiet = false
    @Option(help: "text (progress bar on a terminal, lines otherwise) or json (one JSON object per event and line).")
    var logFormat: Format = .text
}
