import CTorch

/// Runs `body` under autocast on `device`: eligible ops (matmul, linear, attention, …) compute in `dtype`
/// (bf16 on CPU and GPU, fp16 on GPU), precision-sensitive ones stay in fp32. `enabled: false` switches
/// autocast off inside an enclosing region, as `torch.autocast(enabled=False)`. Restored even on error.
public func withAutocast<R>(_ device: Device, dtype: DType = .bfloat16, enabled: Bool = true,
                            _ body: () throws -> R) rethrows -> R {
    let pushed = perform("autocast") { ct_autocast_push(device.typeCode, dtype.rawValue, enabled) }
    defer { if pushed { perform("autocast") { ct_autocast_pop(device.typeCode) } } }
    return try body()
}

/// Dynamic loss scaling for fp16 training, as torch.amp.GradScaler: the loss is multiplied by `scale`
/// before backward; before the step the gradients are unscaled and checked; a step whose gradients hold
/// an Inf or NaN is skipped and the scale backs off; after `growthInterval` good steps the scale grows.
public final class GradScaler {
    public private(set) var scale: Double
    public let growthFactor: Double
    public let backoffFactor: Double
    public let growthInterval: Int
    public private(set) var goodSteps = 0
    /// Steps skipped so far for non-finite gradients.
    public private(set) var skippedSteps = 0

    public init(initialScale: Double = 65536, growthFactor: Double = 2, backoffFactor: Double = 0.5,
                growthInterval: Int = 2000) {
        self.scale = initialScale
        self.growthFactor = growthFactor
        self.backoffFactor = backoffFactor
        self.growthInterval = growthInterval
    }

    /// The loss to call `backward` on.
    public func scaled(_ loss: Tensor) -> Tensor { loss * scale }

    /// Unscales the gradients of `parameters` in place; returns false (and updates the scale) when any is
    /// non-finite, in which case the caller must skip the optimizer step.
    public func unscaleAndCheck(_ parameters: [Tensor]) -> Bool {
        guard let first = parameters.first(where: { $0.grad != nil }) else { return true }
        let device = first.device
        let foundInf = Tensor.zeros([1], device: device)
        let inverse = Tensor.full([1], 1 / scale, device: device)
        withHandles(parameters) { handles in
            _ = perform("ampUnscale") { ct_amp_unscale(handles, Int32(parameters.count), foundInf.handle, inverse.handle) }
        }
        // A sync point (fp16 only): whether to skip this step is needed now, as in torch.amp.GradScaler.
        let finite = foundInf.item() == 0
        update(finite: finite)
        return finite
    }

    func update(finite: Bool) {
        if finite {
            goodSteps += 1
            if goodSteps >= growthInterval {
                scale *= growthFactor
                goodSteps = 0
            }
        } else {
            scale *= backoffFactor
            goodSteps = 0
            skippedSteps += 1
        }
    }

    /// State for checkpoints.
    public var state: [String: Double] {
        ["scale": scale, "good_steps": Double(goodSteps), "skipped_steps": Double(skippedSteps)]
    }
    public func restore(_ state: [String: Double]) {
        scale = state["scale"] ?? scale
        goodSteps = Int(state["good_steps"] ?? 0)
        skippedSteps = Int(state["skipped_steps"] ?? 0)
    }
}
