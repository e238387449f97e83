import CTorch

// Element-wise math, comparisons and reductions, each with its gradient through libtorch autograd.

extension Tensor {
    @inline(__always)
    func unary(_ op: ct_unary_op, _ name: StaticString) -> Tensor {
        produce(name) { ct_unary(Int32(op.rawValue), handle, $0) }
    }

    @inline(__always)
    func binary(_ op: ct_binary_op, _ other: Tensor, _ name: StaticString) -> Tensor {
        produce(name) { ct_binary(Int32(op.rawValue), handle, other.handle, $0) }
    }

    @inline(__always)
    func binary(_ op: ct_binary_op, _ scalar: Double, integer: Bool = false, _ name: StaticString) -> Tensor {
        produce(name) { ct_binary_scalar(Int32(op.rawValue), handle, scalar, integer, $0) }
    }

    public func exp() -> Tensor { unary(CT_EXP, "exp") }
    public func log() -> Tensor { unary(CT_LOG, "log") }
    public func log1p() -> Tensor { unary(CT_LOG1P, "log1p") }
    public func sqrt() -> Tensor { unary(CT_SQRT, "sqrt") }
    public func rsqrt() -> Tensor { unary(CT_RSQRT, "rsqrt") }
    public func abs() -> Tensor { unary(CT_ABS, "abs") }
    public func square() -> Tensor { unary(CT_SQUARE, "square") }
    public func reciprocal() -> Tensor { unary(CT_RECIPROCAL, "reciprocal") }
    public func tanh() -> Tensor { unary(CT_TANH, "tanh") }
    public func sigmoid() -> Tensor { unary(CT_SIGMOID, "sigmoid") }
    public func relu() -> Tensor { unary(CT_RELU, "relu") }
    public func silu() -> Tensor { unary(CT_SILU, "silu") }
    /// GELU with the exact erf form (BERT's "gelu") or the tanh approximation ("gelu_new").
    public func gelu(approximate: Bool = false) -> Tensor {
        approximate ? unary(CT_GELU_TANH, "gelu") : unary(CT_GELU_ERF, "gelu")
    }
    /// CLIP's quick GELU: x · sigmoid(1.702 x).
    public func quickGelu() -> Tensor { self * (self * 1.702).sigmoid() }
    public func sin() -> Tensor { unary(CT_SIN, "sin") }
    public func cos() -> Tensor { unary(CT_COS, "cos") }
    public func erf() -> Tensor { unary(CT_ERF, "erf") }
    public func sign() -> Tensor { unary(CT_SIGN, "sign") }
    public func floor() -> Tensor { unary(CT_FLOOR, "floor") }
    public func ceil() -> Tensor { unary(CT_CEIL, "ceil") }
    public func rounded() -> Tensor { unary(CT_ROUND, "round") }
    public func logicalNot() -> Tensor { unary(CT_LOGICAL_NOT, "logicalNot") }
    public func isFinite() -> Tensor { unary(CT_ISFINITE, "isFinite") }
    public func isNaN() -> Tensor { unary(CT_ISNAN, "isNaN") }
    /// A copy with its own storage (part of the graph).
    public func clone() -> Tensor { unary(CT_CLONE, "clone") }
    /// The same data, cut from the autograd graph.
    public func detach() -> Tensor { unary(CT_DETACH, "detach") }
    public func contiguous() -> Tensor { unary(CT_CONTIGUOUS, "contiguous") }
    /// A copy in page-locked host memory, for overlapped host-to-GPU copies.
    public func pinned() -> Tensor { unary(CT_PIN_MEMORY, "pinMemory") }

    public func pow(_ exponent: Double) -> Tensor { binary(CT_POW, exponent, "pow") }
    public func pow(_ exponent: Tensor) -> Tensor { binary(CT_POW, exponent, "pow") }
    public func maximum(_ other: Tensor) -> Tensor { binary(CT_MAXIMUM, other, "maximum") }
    public func minimum(_ other: Tensor) -> Tensor { binary(CT_MINIMUM, other, "minimum") }
    public func clamp(min: Double? = nil, max: Double? = nil) -> Tensor {
        produce("clamp") { ct_clamp(handle, min ?? 0, min != nil, max ?? 0, max != nil, $0) }
    }
    public func matmul(_ other: Tensor) -> Tensor { binary(CT_MATMUL, other, "matmul") }
    public func bmm(_ other: Tensor) -> Tensor { binary(CT_BMM, other, "bmm") }
    public func remainder(_ divisor: Int) -> Tensor { binary(CT_REMAINDER, Double(divisor), integer: true, "remainder") }
    public func floorDivide(_ divisor: Int) -> Tensor {
        binary(CT_FLOOR_DIVIDE, Double(divisor), integer: true, "floorDivide")
    }

    public func eq(_ other: Tensor) -> Tensor { binary(CT_EQ, other, "eq") }
    public func ne(_ other: Tensor) -> Tensor { binary(CT_NE, other, "ne") }
    public func lt(_ other: Tensor) -> Tensor { binary(CT_LT, other, "lt") }
    public func le(_ other: Tensor) -> Tensor { binary(CT_LE, other, "le") }
    public func gt(_ other: Tensor) -> Tensor { binary(CT_GT, other, "gt") }
    public func ge(_ other: Tensor) -> Tensor { binary(CT_GE, other, "ge") }
    public func eq(_ value: Double) -> Tensor { binary(CT_EQ, value, "eq") }
    public func ne(_ value: Double) -> Tensor { binary(CT_NE, value, "ne") }
    public func lt(_ value: Double) -> Tensor { binary(CT_LT, value, "lt") }
    public func le(_ value: Double) -> Tensor { binary(CT_LE, value, "le") }
    public func gt(_ value: Double) -> Tensor { binary(CT_GT, value, "gt") }
    public func ge(_ value: Double) -> Tensor { binary(CT_GE, value, "ge") }
    public func logicalAnd(_ other: Tensor) -> Tensor { binary(CT_LOGICAL_AND, other, "logicalAnd") }
    public func logicalOr(_ other: Tensor) -> Tensor { binary(CT_LOGICAL_OR, other, "logicalOr") }

    /// `condition ? self : other`, element-wise with broadcasting.
    public func `where`(_ condition: Tensor, else other: Tensor) -> Tensor {
        produce("where") { ct_where(condition.handle, handle, other.handle, $0) }
    }
    /// `value` where `mask` is true.
    public func maskedFill(_ mask: Tensor, _ value: Double) -> Tensor {
        produce("maskedFill") { ct_masked_fill(handle, mask.handle, value, $0) }
    }
    public func lerp(_ end: Tensor, _ weight: Double) -> Tensor {
        produce("lerp") { ct_lerp(handle, end.handle, weight, $0) }
    }

    // MARK: Reductions

    @inline(__always)
    func reduce(_ op: ct_reduce_op, _ dims: [Int]?, _ keepDim: Bool, _ p: Double, _ name: StaticString) -> Tensor {
        let dims = dims ?? []
        let all = dims.isEmpty
        return withInt64s(dims) { pointer, n in
            produce(name) { ct_reduce(Int32(op.rawValue), handle, pointer, all ? -1 : n, keepDim, p, $0) }
        }
    }

    /// Sum over `dims` (all when nil).
    public func sum(dims: [Int]? = nil, keepDim: Bool = false) -> Tensor { reduce(CT_SUM, dims, keepDim, 0, "sum") }
    public func sum(dim: Int, keepDim: Bool = false) -> Tensor { sum(dims: [dim], keepDim: keepDim) }
    public func mean(dims: [Int]? = nil, keepDim: Bool = false) -> Tensor {
        reduce(CT_MEAN, dims, keepDim, 0, "mean")
    }
    public func mean(dim: Int, keepDim: Bool = false) -> Tensor { mean(dims: [dim], keepDim: keepDim) }
    /// Largest value over `dims` (all when nil).
    public func max(dims: [Int]? = nil, keepDim: Bool = false) -> Tensor { reduce(CT_AMAX, dims, keepDim, 0, "max") }
    public func min(dims: [Int]? = nil, keepDim: Bool = false) -> Tensor { reduce(CT_AMIN, dims, keepDim, 0, "min") }
    public func prod(dims: [Int]? = nil, keepDim: Bool = false) -> Tensor {
        reduce(CT_PROD, dims, keepDim, 0, "prod")
    }
    /// Variance with Bessel's correction by default (`correction` 1), as torch.var.
    public func variance(dims: [Int]? = nil, correction: Int = 1, keepDim: Bool = false) -> Tensor {
        reduce(CT_VAR, dims, keepDim, Double(correction), "var")
    }
    public func std(dims: [Int]? = nil, correction: Int = 1, keepDim: Bool = false) -> Tensor {
        reduce(CT_STD, dims, keepDim, Double(correction), "std")
    }
    public func logSumExp(dims: [Int], keepDim: Bool = false) -> Tensor {
        reduce(CT_LOGSUMEXP, dims, keepDim, 0, "logsumexp")
    }
    public func all(dims: [Int]? = nil, keepDim: Bool = false) -> Tensor { reduce(CT_ALL, dims, keepDim, 0, "all") }
    public func any(dims: [Int]? = nil, keepDim: Bool = false) -> Tensor { reduce(CT_ANY, dims, keepDim, 0, "any") }
    /// The p-norm over `dims` (all when nil), as torch.linalg.vector_norm.
    public func norm(_ p: Double = 2, dims: [Int]? = nil, keepDim: Bool = false) -> Tensor {
        reduce(CT_NORM, dims, keepDim, p, "norm")
    }

    /// Values and indices of the maximum along `dim`.
    public func max(dim: Int, keepDim: Bool = false) -> (values: Tensor, indices: Tensor) {
        extremum(0, dim, keepDim)
    }
    public func min(dim: Int, keepDim: Bool = false) -> (values: Tensor, indices: Tensor) {
        extremum(1, dim, keepDim)
    }
    private func extremum(_ kind: Int32, _ dim: Int, _ keepDim: Bool) -> (values: Tensor, indices: Tensor) {
        var values: OpaquePointer?
        var indices: OpaquePointer?
        if ct_extremum_dim(kind, handle, Int64(dim), keepDim, &values, &indices) != 0 {
            reportFailure(kind == 0 ? "max" : "min")
            return (Tensor(handle: nil), Tensor(handle: nil))
        }
        return (Tensor(handle: values), Tensor(handle: indices))
    }
    public func argmax(dim: Int, keepDim: Bool = false) -> Tensor {
        produce("argmax") { ct_arg_extremum(0, handle, Int64(dim), keepDim, $0) }
    }
    public func argmin(dim: Int, keepDim: Bool = false) -> Tensor {
        produce("argmin") { ct_arg_extremum(1, handle, Int64(dim), keepDim, $0) }
    }
    public func topk(_ k: Int, dim: Int = -1, largest: Bool = true, sorted: Bool = true)
        -> (values: Tensor, indices: Tensor)
    {
        var values: OpaquePointer?
        var indices: OpaquePointer?
        if ct_topk(handle, Int64(k), Int64(dim), largest, sorted, &values, &indices) != 0 {
            reportFailure("topk")
            return (Tensor(handle: nil), Tensor(handle: nil))
        }
        return (Tensor(handle: values), Tensor(handle: indices))
    }
    /// Stable sort along `dim`.
    public func sorted(dim: Int = -1, descending: Bool = false) -> (values: Tensor, indices: Tensor) {
        var values: OpaquePointer?
        var indices: OpaquePointer?
        if ct_sort(handle, Int64(dim), descending, &values, &indices) != 0 {
            reportFailure("sort")
            return (Tensor(handle: nil), Tensor(handle: nil))
        }
        return (Tensor(handle: values), Tensor(handle: indices))
    }
    public func cumsum(dim: Int) -> Tensor { produce("cumsum") { ct_cumsum(handle, Int64(dim), $0) } }
}

// MARK: Operators (broadcasting; an Int scalar keeps integer tensors integer)

public prefix func - (x: Tensor) -> Tensor { x.unary(CT_NEG, "neg") }
public func + (a: Tensor, b: Tensor) -> Tensor { a.binary(CT_ADD, b, "add") }
public func - (a: Tensor, b: Tensor) -> Tensor { a.binary(CT_SUB, b, "sub") }
public func * (a: Tensor, b: Tensor) -> Tensor { a.binary(CT_MUL, b, "mul") }
public func / (a: Tensor, b: Tensor) -> Tensor { a.binary(CT_DIV, b, "div") }
public func + (a: Tensor, s: Double) -> Tensor { a.binary(CT_ADD, s, "add") }
public func - (a: Tensor, s: Double) -> Tensor { a.binary(CT_SUB, s, "sub") }
public func * (a: Tensor, s: Double) -> Tensor { a.binary(CT_MUL, s, "mul") }
public func / (a: Tensor, s: Double) -> Tensor { a.binary(CT_DIV, s, "div") }
public func + (s: Double, a: Tensor) -> Tensor { a.binary(CT_ADD, s, "add") }
public func - (s: Double, a: Tensor) -> Tensor { a.binary(CT_RSUB, s, "rsub") }
public func * (s: Double, a: Tensor) -> Tensor { a.binary(CT_MUL, s, "mul") }
public func / (s: Double, a: Tensor) -> Tensor { a.binary(CT_RDIV, s, "rdiv") }
public func + (a: Tensor, s: Int) -> Tensor { a.binary(CT_ADD, Double(s), integer: true, "add") }
public func - (a: Tensor, s: Int) -> Tensor { a.binary(CT_SUB, Double(s), integer: true, "sub") }
public func * (a: Tensor, s: Int) -> Tensor { a.binary(CT_MUL, Double(s), integer: true, "mul") }
public func + (s: Int, a: Tensor) -> Tensor { a.binary(CT_ADD, Double(s), integer: true, "add") }
public func - (s: Int, a: Tensor) -> Tensor { a.binary(CT_RSUB, Double(s), integer: true, "rsub") }
public func * (s: Int, a: Tensor) -> Tensor { a.binary(CT_MUL, Double(s), integer: true, "mul") }
