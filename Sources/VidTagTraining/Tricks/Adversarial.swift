import Torch

/// Adversarial training on embeddings (Miyato et al.'s FGM, Madry et al.'s PGD), as the WeChat top teams
/// used on BERT's word embeddings. The perturbed parameters are chosen by exact key. Both run an extra
/// forward + backward under the perturbation (the body) after the clean backward, so that the gradients of
/// both passes add up; the weights are restored exactly (from a copy) afterwards, even on error.
public struct AdversarialTarget {
    public let names: [String]
    let tensors: [Tensor]

    /// The parameters of `store` named exactly `keys`; an unknown key is an error naming it.
    public init(store: ParameterStore, keys: [String]) throws {
        var tensors: [Tensor] = []
        for key in keys {
            guard let tensor = store[key] else {
                let near = store.names.filter { $0.hasSuffix(key.split(separator: ".").last.map(String.init) ?? key) }.prefix(5)
                throw ConfigError("adversarial training: no parameter '\(key)' in the model"
                    + (near.isEmpty ? "" : "; similar keys: \(near.joined(separator: ", "))"))
            }
            tensors.append(tensor)
        }
        names = keys
        self.tensors = tensors
    }
}

/// Fast Gradient Method: one step of size `epsilon` along the normalised gradient, r = ε · g / ‖g‖.
public struct FGM {
    public let target: AdversarialTarget
    public let epsilon: Double

    public init(target: AdversarialTarget, epsilon: Double) {
        self.target = target
        self.epsilon = epsilon
    }

    /// Perturbs the target along its current gradient, runs `body` (forward + backward on the perturbed
    /// model), then restores the weights.
    public func withPerturbation<R>(_ body: () throws -> R) rethrows -> R {
        let saved = withNoGrad { target.tensors.map { $0.detach().clone() } }
        withNoGrad {
            for tensor in target.tensors {
                guard let gradient = tensor.grad else { continue }
                tensor.add_(normalizedStep(gradient, size: epsilon))
            }
        }
        defer { withNoGrad { for (tensor, copy) in zip(target.tensors, saved) { tensor.copy_(copy) } } }
        return try body()
    }
}

/// Projected Gradient Descent: `steps` ascent steps of size `alpha` along the normalised gradient, each
/// projected back into the ball of radius `epsilon` around the clean weights. The gradients of the clean
/// pass are kept and the last adversarial pass adds to them (the competition recipe).
public struct PGD {
    public let target: AdversarialTarget
    public let epsilon: Double
    public let alpha: Double
    public let steps: Int

    public init(target: AdversarialTarget, epsilon: Double, alpha: Double, steps: Int) {
        self.target = target
        self.epsilon = epsilon
        self.alpha = alpha
        self.steps = max(steps, 1)
    }

    /// - parameters: every trainable parameter (their gradients are saved and restored between steps).
    /// - body: forward + backward on the perturbed model; told whether it is the last step (the one whose
    ///   gradients are kept).
    public func withPerturbations(parameters: [Tensor], _ body: (_ lastStep: Bool) throws -> Void) rethrows {
        let clean = withNoGrad { target.tensors.map { $0.detach().clone() } }
        let cleanGradients = withNoGrad { parameters.map { $0.grad?.clone() } }
        defer { withNoGrad { for (tensor, copy) in zip(target.tensors, clean) { tensor.copy_(copy) } } }
        for step in 0..<steps {
            withNoGrad {
                for (tensor, origin) in zip(target.tensors, clean) {
                    guard let gradient = tensor.grad else { continue }
                    tensor.add_(normalizedStep(gradient, size: alpha))
                    projectIntoBall(tensor, origin: origin)
                }
                if step < steps - 1 {
                    for parameter in parameters { parameter.zeroGrad() }
                } else {
                    for (parameter, gradient) in zip(parameters, cleanGradients) { parameter.setGrad(gradient) }
                }
            }
            try body(step == steps - 1)
        }
    }

    /// Moves `tensor` so that ‖tensor − origin‖ ≤ ε (decided on the device: no host read).
    func projectIntoBall(_ tensor: Tensor, origin: Tensor) {
        let delta = tensor - origin
        let norm = delta.norm()
        tensor.copy_((origin + delta * (epsilon / norm)).where(norm.gt(epsilon), else: tensor))
    }
}

/// `size · g / ‖g‖`, or zeros where ‖g‖ is 0 or not finite (no move), computed on the device so that the
/// adversarial pass reads nothing back on the host.
func normalizedStep(_ gradient: Tensor, size: Double) -> Tensor {
    let norm = gradient.norm()
    let usable = norm.gt(0).logicalAnd(norm.isFinite())
    return (gradient * (size / norm)).maskedFill(usable.logicalNot(), 0)
}
