import CTorch

extension Tensor {
    /// Whether autograd records operations on this tensor (a leaf with requiresGrad is a parameter).
    public var requiresGrad: Bool { ct_requires_grad(handle) }

    /// Marks this tensor as a leaf whose gradient autograd accumulates; returns it for chaining.
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        perform("requiresGrad") { ct_set_requires_grad(handle, flag) }
        return self
    }

    /// Back-propagates from this tensor (a scalar unless `gradient` is given).
    public func backward(gradient: Tensor? = nil, retainGraph: Bool = false, createGraph: Bool = false) {
        withExtendedLifetime(gradient) {
            perform("backward") { ct_backward(handle, gradient?.handle, retainGraph, createGraph) }
        }
    }

    /// The accumulated gradient, nil when none has been computed.
    public var grad: Tensor? {
        var out: OpaquePointer?
        guard perform("grad", { ct_grad(handle, &out) }), out != nil else { return nil }
        return Tensor(handle: out)
    }

    /// Replaces the gradient; nil clears it.
    public func setGrad(_ gradient: Tensor?) {
        withExtendedLifetime(gradient) { perform("setGrad") { ct_set_grad(handle, gradient?.handle) } }
    }

    /// Clears the gradient (as PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() { setGrad(nil) }

    // MARK: In-place updates (for averaging and perturbing parameters; run them under `withNoGrad`)

    public func add_(_ other: Tensor, alpha: Double = 1) { perform("add_") { ct_inplace(Int32(CT_ADD_.rawValue), handle, other.handle, alpha) } }
    public func sub_(_ other: Tensor, alpha: Double = 1) { perform("sub_") { ct_inplace(Int32(CT_SUB_.rawValue), handle, other.handle, alpha) } }
    public func mul_(_ other: Tensor) { perform("mul_") { ct_inplace(Int32(CT_MUL_.rawValue), handle, other.handle, 1) } }
    public func div_(_ other: Tensor) { perform("div_") { ct_inplace(Int32(CT_DIV_.rawValue), handle, other.handle, 1) } }
    public func copy_(_ source: Tensor) { perform("copy_") { ct_inplace(Int32(CT_COPY_.rawValue), handle, source.handle, 1) } }
    public func add_(_ scalar: Double) { perform("add_") { ct_inplace_scalar(Int32(CT_ADDS_.rawValue), handle, scalar) } }
    public func mul_(_ scalar: Double) { perform("mul_") { ct_inplace_scalar(Int32(CT_MULS_.rawValue), handle, scalar) } }
    public func fill_(_ scalar: Double) { perform("fill_") { ct_inplace_scalar(Int32(CT_FILL_.rawValue), handle, scalar) } }
    public func zero_() { perform("zero_") { ct_inplace_scalar(Int32(CT_ZERO_.rawValue), handle, 0) } }
    /// self += weight · (end − self).
    public func lerp_(_ end: Tensor, weight: Double) { perform("lerp_") { ct_lerp_(handle, end.handle, weight) } }
    /// Replaces this tensor's data (dtype and device may change) while every holder keeps the same tensor.
    public func setData(_ source: Tensor) { perform("setData") { ct_set_data(handle, source.handle) } }

    /// For each pair, `tensor += weight · (end − tensor)` in one call (an EMA update of a whole model).
    public static func lerp_(_ tensors: [Tensor], towards ends: [Tensor], weight: Double) {
        precondition(tensors.count == ends.count, "lerp_: \(tensors.count) tensors, \(ends.count) targets")
        withHandles(tensors) { a in
            withHandles(ends) { b in
                _ = perform("foreachLerp_") { ct_foreach_lerp_(a, b, Int32(tensors.count), weight) }
            }
        }
    }
}

/// Runs `body` without recording operations for autograd (thread-local, restored even on error).
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = ct_grad_enabled()
    ct_set_grad_enabled(false)
    defer { ct_set_grad_enabled(previous) }
    return try body()
}

/// Runs `body` with gradient recording switched on (inside an outer `withNoGrad`).
public func withGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = ct_grad_enabled()
    ct_set_grad_enabled(true)
    defer { ct_set_grad_enabled(previous) }
    return try body()
}
