import CTorch
import Foundation

/// AdamW (decoupled weight decay), the algorithm of torch.optim.AdamW, over parameter groups that each
/// have their own learning rate and weight decay. Its state (moments and step) saves and restores exactly.
/// A step reads nothing on the host.
public final class AdamW {
    /// How a step runs; all three compute torch.optim.AdamW's update.
    public enum Kernel: String, Sendable, CaseIterable {
        /// A loop of per-tensor ops (about ten kernel launches per parameter).
        case perTensor
        /// libtorch's multi-tensor `_foreach_*` ops, as torch.optim.AdamW(foreach=True).
        case forEach
        /// libtorch's fused `_fused_adamw_`, as torch.optim.AdamW(fused=True): one kernel per device and dtype.
        case fused

        var code: Int32 {
            switch self {
            case .perTensor: 0
            case .forEach: 1
            case .fused: 2
            }
        }

        /// What torch.optim.AdamW's own defaults pick: fused on CUDA, multi-tensor elsewhere.
        public static func preferred(for device: Device) -> Kernel {
            if case .cuda = device { return .fused }
            return .forEach
        }
    }

    public struct Group {
        public var name: String
        public var parameters: [(name: String, tensor: Tensor)]
        public var learningRate: Double
        public var weightDecay: Double

        public init(name: String, parameters: [(name: String, tensor: Tensor)], learningRate: Double,
                    weightDecay: Double) {
            self.name = name
            self.parameters = parameters
            self.learningRate = learningRate
            self.weightDecay = weightDecay
        }
    }

    public private(set) var groups: [Group]
    public let beta1: Double
    public let beta2: Double
    public let eps: Double
    public let kernel: Kernel
    /// Completed steps.
    public private(set) var step = 0
    private var firstMoments: [String: Tensor] = [:]
    private var secondMoments: [String: Tensor] = [:]

    /// - kernel: nil picks `Kernel.preferred` for the device of the first parameter.
    public init(groups: [Group], beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, kernel: Kernel? = nil) {
        let names = groups.flatMap { $0.parameters.map(\.name) }
        precondition(Set(names).count == names.count, "AdamW: a parameter appears in two groups")
        self.groups = groups
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.kernel = kernel ?? Kernel.preferred(for: groups.lazy.flatMap(\.parameters).first?.tensor.device ?? .cpu)
    }

    /// One update. Each group's learning rate is multiplied by `learningRateScale` (the schedule's value).
    public func step(learningRateScale: Double = 1) {
        step += 1
        for group in groups {
            let parameters = group.parameters.filter { $0.tensor.grad != nil }
            guard !parameters.isEmpty else { continue }
            let tensors = parameters.map(\.tensor)
            let first = parameters.map { moment(&firstMoments, $0) }
            let second = parameters.map { moment(&secondMoments, $0) }
            withHandles(tensors) { p in
                withHandles(first) { m in
                    withHandles(second) { v in
                        _ = perform("adamw") {
                            ct_adamw_step(p, m, v, Int32(tensors.count), group.learningRate * learningRateScale, beta1,
                                          beta2, eps, group.weightDecay, Int64(step), kernel.code)
                        }
                    }
                }
            }
        }
    }

    private func moment(_ table: inout [String: Tensor], _ parameter: (name: String, tensor: Tensor)) -> Tensor {
        if let existing = table[parameter.name] { return existing }
        let zeros = Tensor.zeros(parameter.tensor.shape, dtype: parameter.tensor.dtype, device: parameter.tensor.device)
        table[parameter.name] = zeros
        return zeros
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() {
        for group in groups { for parameter in group.parameters { parameter.tensor.zeroGrad() } }
    }

    public var parameters: [Tensor] { groups.flatMap { $0.parameters.map(\.tensor) } }

    /// Moments under `exp_avg.NAME` / `exp_avg_sq.NAME` (for `optimizer.safetensors`) and the step.
    public func stateDict() -> (tensors: [String: Tensor], step: Int) {
        var tensors: [String: Tensor] = [:]
        for (name, value) in firstMoments { tensors["exp_avg.\(name)"] = value }
        for (name, value) in secondMoments { tensors["exp_avg_sq.\(name)"] = value }
        return (tensors, step)
    }

    /// Restores a state written by `stateDict`; every moment must belong to a parameter of this optimizer
    /// with the same shape.
    public func load(tensors: [String: Tensor], step: Int) throws {
        let shapes = Dictionary(uniqueKeysWithValues: groups.flatMap { $0.parameters.map { ($0.name, $0.tensor) } })
        var first: [String: Tensor] = [:]
        var second: [String: Tensor] = [:]
        for (key, value) in tensors {
            let (table, name): (String, String)
            if key.hasPrefix("exp_avg_sq.") {
                (table, name) = ("exp_avg_sq", String(key.dropFirst("exp_avg_sq.".count)))
            } else if key.hasPrefix("exp_avg.") {
                (table, name) = ("exp_avg", String(key.dropFirst("exp_avg.".count)))
            } else {
                throw CheckpointLoadError(source: "optimizer state", problems: ["unexpected key \(key)"])
            }
            guard let parameter = shapes[name] else {
                throw CheckpointLoadError(source: "optimizer state", problems: ["\(key): no parameter \(name) in the optimizer"])
            }
            guard parameter.shape == value.shape else {
                throw CheckpointLoadError(source: "optimizer state",
                                problems: ["\(key): parameter has shape \(parameter.shape), state \(value.shape)"])
            }
            let placed = value.to(parameter.device, parameter.dtype).clone()
            if table == "exp_avg" { first[name] = placed } else { second[name] = placed }
        }
        firstMoments = first
        secondMoments = second
        self.step = step
    }
}

/// Scales all gradients of `parameters` so that their global 2-norm is at most `maxNorm`, as
/// torch.nn.utils.clip_grad_norm_ (multi-tensor, on the gradients' device); returns the norm before
/// clipping as a 0-d tensor on that device, so that nothing waits for it unless it is read.
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Double, normType: Double = 2) -> Tensor {
    var total: OpaquePointer?
    withHandles(parameters) { handles in
        _ = perform("clipGradNorm") { ct_clip_grad_norm(handles, Int32(parameters.count), maxNorm, normType, &total) }
    }
    return Tensor(handle: total)
}

/// A learning-rate multiplier as a pure function of the step: linear warm-up from 0, then constant,
/// linear decay to 0 or cosine decay (Hugging Face's get_*_schedule_with_warmup).
public struct LearningRateSchedule: Codable, Sendable, Equatable {
    public enum Decay: String, Codable, Sendable, CaseIterable {
        case constant, linear, cosine
    }

    public var warmupSteps: Int
    public var totalSteps: Int
    public var decay: Decay

    public init(warmupSteps: Int, totalSteps: Int, decay: Decay) {
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.decay = decay
    }

    /// The multiplier of the base learning rate at `step` (0-based: the step about to be taken).
    public func multiplier(at step: Int) -> Double {
        if step < warmupSteps { return Double(step) / Double(Swift.max(1, warmupSteps)) }
        switch decay {
        case .constant:
            return 1
        case .linear:
            return Swift.max(0, Double(totalSteps - step) / Double(Swift.max(1, totalSteps - warmupSteps)))
        case .cosine:
            let progress = Double(step - warmupSteps) / Double(Swift.max(1, totalSteps - warmupSteps))
            return Swift.max(0, 0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}

