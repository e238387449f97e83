import Torch

/// An exponential moving average of the trainable weights (EMA): after every optimizer step
/// `average ← decay · average + (1 − decay) · weight`. Evaluation, checkpoints of the best model and
/// prediction use the averaged weights through `withAveragedWeights`, which swaps them in and restores
/// the raw weights bit for bit afterwards, even when the body throws.
public final class ExponentialMovingAverage {
    public let decay: Double
    public let names: [String]
    let parameters: [Tensor]
    /// The averaged weights, one per parameter.
    public let averages: [Tensor]

    /// Averages the trainable parameters of `store` whose names start with `prefix` (all by default).
    public init(store: ParameterStore, decay: Double, prefix: String = "") {
        precondition((0..<1).contains(decay), "EMA decay must be in [0, 1), got \(decay)")
        self.decay = decay
        let entries = store.trainable().filter { ParameterStore.matches($0.name, prefix: prefix) }
        names = entries.map(\.name)
        parameters = entries.map(\.tensor)
        averages = withNoGrad { entries.map { $0.tensor.detach().clone() } }
    }

    /// One update after an optimizer step.
    public func update() {
        withNoGrad { Tensor.lerp_(averages, towards: parameters, weight: 1 - decay) }
    }

    /// Runs `body` with the averaged weights in the model; the raw weights return afterwards.
    public func withAveragedWeights<R>(_ body: () throws -> R) rethrows -> R {
        let raw = withNoGrad { parameters.map { $0.detach().clone() } }
        withNoGrad { for (parameter, average) in zip(parameters, averages) { parameter.copy_(average) } }
        defer { withNoGrad { for (parameter, saved) in zip(parameters, raw) { parameter.copy_(saved) } } }
        return try body()
    }

    /// The averages by parameter name (for checkpoints and for saving the EMA model).
    public func stateDict() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: zip(names.map { "ema.\($0)" }, averages))
    }

    public func load(_ state: [String: Tensor]) throws {
        var problems: [String] = []
        withNoGrad {
            for (name, average) in zip(names, averages) {
                guard let saved = state["ema.\(name)"] else { problems.append("missing ema.\(name)"); continue }
                guard saved.shape == average.shape else {
                    problems.append("ema.\(name): expected \(average.shape), got \(saved.shape)")
                    continue
                }
                average.copy_(saved)
            }
        }
        if !problems.isEmpty { throw CheckpointLoadError(source: "EMA state", problems: problems) }
    }
}
