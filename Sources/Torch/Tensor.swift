import CTorch

/// Swift scalar types that map to a tensor dtype.
public protocol TensorElement: Sendable {
    static var dtype: DType { get }
}
extension Float: TensorElement { public static var dtype: DType { .float32 } }
extension Double: TensorElement { public static var dtype: DType { .float64 } }
extension Float16: TensorElement { public static var dtype: DType { .float16 } }
extension Int64: TensorElement { public static var dtype: DType { .int64 } }
extension Int32: TensorElement { public static var dtype: DType { .int32 } }
extension UInt8: TensorElement { public static var dtype: DType { .uint8 } }
extension Bool: TensorElement { public static var dtype: DType { .bool } }

/// An n-dimensional array in libtorch, with autograd. Owns one libtorch tensor handle.
///
/// Operations never throw (see `ErrorSink` for how failures surface); a tensor produced by a failed
/// operation is *invalid* (`isValid == false`).
public final class Tensor: @unchecked Sendable {
    let handle: OpaquePointer?

    init(handle: OpaquePointer?) {
        self.handle = handle
    }

    deinit {
        ct_tensor_free(handle)
    }

    /// False for the result of a failed operation.
    public var isValid: Bool { handle != nil }

    public var rank: Int { Int(Swift.max(ct_dim(handle), 0)) }

    public var shape: [Int] {
        let rank = ct_dim(handle)
        guard rank > 0 else { return [] }
        var sizes = [Int64](repeating: 0, count: Int(rank))
        ct_sizes(handle, &sizes)
        return sizes.map(Int.init)
    }

    /// The size of one dimension (negative counts from the end); 0 for an invalid tensor.
    public func size(_ dim: Int) -> Int {
        guard isValid else { return 0 }
        let shape = shape
        return shape[dim < 0 ? dim + shape.count : dim]
    }

    public var dtype: DType { DType(rawValue: ct_dtype(handle)) ?? .float32 }

    public var device: Device {
        var type: Int32 = 0
        var index: Int32 = 0
        ct_device(handle, &type, &index)
        return Device(typeCode: type, index: index)
    }

    /// Number of elements; 0 for an invalid tensor.
    public var count: Int { Swift.max(Int(ct_numel(handle)), 0) }
    public var isContiguous: Bool { ct_is_contiguous(handle) }

    /// Whether the two tensors share the same storage.
    public func sharesData(with other: Tensor) -> Bool { ct_same_data(handle, other.handle) }

    // MARK: Creation from Swift values

    /// A CPU tensor holding a copy of `values`, shaped `shape` (default: one dimension).
    public convenience init<T: TensorElement>(_ values: [T], shape: [Int]? = nil) {
        let handle = values.withUnsafeBytes { bytes in
            Tensor.copyingHandle(bytes: bytes, dtype: T.dtype, shape: shape ?? [values.count])
        }
        self.init(handle: handle)
    }

    /// A 0-dimensional tensor.
    public convenience init<T: TensorElement>(scalar: T) {
        self.init([scalar], shape: [])
    }

    /// A CPU tensor holding a copy of raw bytes read as `dtype` (bf16 comes this way).
    public convenience init(bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) {
        self.init(handle: Tensor.copyingHandle(bytes: bytes, dtype: dtype, shape: shape))
    }

    private static func copyingHandle(bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) -> OpaquePointer? {
        var out: OpaquePointer?
        let status = withInt64s(shape) { dims, n in
            ct_from_data(bytes.baseAddress, bytes.count, dtype.rawValue, dims, n, &out)
        }
        if status != 0 {
            reportFailure("fromData")
            return nil
        }
        return out
    }

    // MARK: Reading values back

    /// The elements in row-major order, converted from the tensor's dtype when `T` differs.
    public func toArray<T: TensorElement>(_ type: T.Type = T.self) -> [T] {
        let source = dtype == T.dtype ? self : self.to(T.dtype)
        let count = source.count
        guard count > 0 else { return [] }
        var result = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = count
        }
        let ok = result.withUnsafeMutableBytes { bytes in
            perform("toArray") { ct_copy_to_buffer(source.handle, bytes.baseAddress, bytes.count) }
        }
        if !ok { result = [] }
        return result
    }

    /// The raw bytes of the tensor on the CPU, contiguous, in its own dtype.
    public func rawBytes() -> [UInt8] {
        let count = self.count * dtype.byteSize
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { bytes in
            _ = perform("rawBytes") { ct_copy_to_buffer(handle, bytes.baseAddress, count) }
        }
        return result
    }

    /// The value of a one-element tensor as a Double.
    public func item() -> Double {
        var value = 0.0
        perform("item") { ct_item_double(handle, &value) }
        return value
    }

    /// The value of a one-element integer tensor.
    public func intItem() -> Int {
        var value: Int64 = 0
        perform("item") { ct_item_int64(handle, &value) }
        return Int(value)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        guard isValid else { return "Tensor(invalid)" }
        var text = "Tensor(shape: \(shape), dtype: \(dtype), device: \(device)"
        if count <= 16 {
            text += ", values: \(toArray(Double.self))"
        }
        return text + ")"
    }
}
