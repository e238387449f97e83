import CTorch

// Shape, indexing and conversion operations.

extension Tensor {
    public func reshape(_ shape: [Int]) -> Tensor {
        withInt64s(shape) { dims, n in produce("reshape") { ct_reshape(handle, dims, n, $0) } }
    }
    /// A view with a new shape over the same storage (fails when the strides do not allow it).
    public func view(_ shape: [Int]) -> Tensor {
        withInt64s(shape) { dims, n in produce("view") { ct_view(handle, dims, n, $0) } }
    }
    public func permute(_ dims: [Int]) -> Tensor {
        withInt64s(dims) { pointer, n in produce("permute") { ct_permute(handle, pointer, n, $0) } }
    }
    public func transpose(_ dim0: Int, _ dim1: Int) -> Tensor {
        produce("transpose") { ct_transpose(handle, Int64(dim0), Int64(dim1), $0) }
    }
    public func expand(_ shape: [Int]) -> Tensor {
        withInt64s(shape) { dims, n in produce("expand") { ct_expand(handle, dims, n, $0) } }
    }
    public func repeated(_ repeats: [Int]) -> Tensor {
        withInt64s(repeats) { dims, n in produce("repeat") { ct_repeat(handle, dims, n, $0) } }
    }
    public func squeeze(_ dim: Int) -> Tensor { produce("squeeze") { ct_squeeze(handle, Int64(dim), $0) } }
    public func unsqueeze(_ dim: Int) -> Tensor { produce("unsqueeze") { ct_unsqueeze(handle, Int64(dim), $0) } }
    public func flatten(from start: Int = 0, to end: Int = -1) -> Tensor {
        produce("flatten") { ct_flatten(handle, Int64(start), Int64(end), $0) }
    }
    /// Elements `start ..< end` (with `step`) along `dim`; negative indices count from the end.
    public func slice(dim: Int, start: Int = 0, end: Int = Int.max, step: Int = 1) -> Tensor {
        produce("slice") { ct_slice(handle, Int64(dim), Int64(start), Int64(end), Int64(step), $0) }
    }
    /// The slice at `index` along `dim`, with that dimension removed.
    public func select(dim: Int, index: Int) -> Tensor {
        produce("select") { ct_select(handle, Int64(dim), Int64(index), $0) }
    }
    public subscript(index: Int) -> Tensor { select(dim: 0, index: index) }
    public func narrow(dim: Int, start: Int, length: Int) -> Tensor {
        slice(dim: dim, start: start, end: start + length)
    }
    public func flip(_ dims: [Int]) -> Tensor {
        withInt64s(dims) { pointer, n in produce("flip") { ct_flip(handle, pointer, n, $0) } }
    }
    public func roll(shifts: [Int], dims: [Int]) -> Tensor {
        precondition(shifts.count == dims.count, "roll: one shift per dimension")
        return withInt64s(shifts) { s, n in
            withInt64s(dims) { d, _ in produce("roll") { ct_roll(handle, s, d, n, $0) } }
        }
    }
    /// Constant padding as torch.nn.functional.pad: `[left, right, top, bottom, …]`, last dimension first.
    public func padded(_ pad: [Int], value: Double = 0) -> Tensor {
        withInt64s(pad) { p, n in produce("pad") { ct_pad(handle, p, n, value, $0) } }
    }
    public func split(sizes: [Int], dim: Int = 0) -> [Tensor] {
        var outs = [OpaquePointer?](repeating: nil, count: sizes.count)
        let status = withInt64s(sizes) { s, n in ct_split(handle, s, n, Int64(dim), &outs) }
        if status != 0 {
            reportFailure("split")
            return sizes.map { _ in Tensor(handle: nil) }
        }
        return outs.map { Tensor(handle: $0) }
    }
    /// Pieces of `size` along `dim` (the last may be smaller).
    public func split(size: Int, dim: Int = 0) -> [Tensor] {
        let total = self.size(dim)
        let sizes = total == 0 ? [0] : stride(from: 0, to: total, by: size).map { Swift.min(size, total - $0) }
        return split(sizes: sizes, dim: dim)
    }
    /// `chunks` pieces as torch.chunk: each of ceil(size / chunks).
    public func chunk(_ chunks: Int, dim: Int = 0) -> [Tensor] {
        let total = size(dim)
        if total == 0 { return split(sizes: Array(repeating: 0, count: chunks), dim: dim) }
        return split(size: (total + chunks - 1) / chunks, dim: dim)
    }
    public func indexSelect(dim: Int, index: Tensor) -> Tensor {
        produce("indexSelect") { ct_index_select(handle, Int64(dim), index.handle, $0) }
    }
    public func gather(dim: Int, index: Tensor) -> Tensor {
        produce("gather") { ct_gather(handle, Int64(dim), index.handle, $0) }
    }
    /// A copy with `src` written at `index` along `dim`.
    public func scatter(dim: Int, index: Tensor, source: Tensor) -> Tensor {
        produce("scatter") { ct_scatter(0, handle, Int64(dim), index.handle, source.handle, $0) }
    }
    /// A copy with `src` added at `index` along `dim`.
    public func scatterAdd(dim: Int, index: Tensor, source: Tensor) -> Tensor {
        produce("scatterAdd") { ct_scatter(1, handle, Int64(dim), index.handle, source.handle, $0) }
    }
    public func maskedSelect(_ mask: Tensor) -> Tensor {
        produce("maskedSelect") { ct_masked_select(handle, mask.handle, $0) }
    }
    public func oneHot(classes: Int) -> Tensor { produce("oneHot") { ct_one_hot(handle, Int64(classes), $0) } }
    public func tril(diagonal: Int = 0) -> Tensor { produce("tril") { ct_tril(handle, Int64(diagonal), $0) } }

    // MARK: Conversion

    public func to(_ dtype: DType) -> Tensor {
        produce("to") { ct_to(handle, dtype.rawValue, -1, -1, false, $0) }
    }
    /// A copy on `device` (the same tensor when already there). `nonBlocking` overlaps a copy from pinned
    /// host memory with GPU work.
    public func to(_ device: Device, nonBlocking: Bool = false) -> Tensor {
        produce("to") { ct_to(handle, -1, device.typeCode, device.indexCode, nonBlocking, $0) }
    }
    public func to(_ device: Device, _ dtype: DType) -> Tensor {
        produce("to") { ct_to(handle, dtype.rawValue, device.typeCode, device.indexCode, false, $0) }
    }
}

/// Concatenation along an existing dimension.
public func cat(_ tensors: [Tensor], dim: Int = 0) -> Tensor {
    withHandles(tensors) { handles in produce("cat") { ct_cat(handles, Int32(tensors.count), Int64(dim), $0) } }
}

/// Stacking along a new dimension.
public func stack(_ tensors: [Tensor], dim: Int = 0) -> Tensor {
    withHandles(tensors) { handles in produce("stack") { ct_stack(handles, Int32(tensors.count), Int64(dim), $0) } }
}
