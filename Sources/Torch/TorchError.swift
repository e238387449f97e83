import CTorch

/// A failure inside libtorch (or the shim), carrying libtorch's own message.
public struct TorchError: Error, CustomStringConvertible, Sendable {
    /// The engine operation that failed, e.g. `matmul`.
    public let operation: String
    /// libtorch's message, without its C++ backtrace.
    public let message: String

    public var description: String { "\(operation): \(message)" }
}

/// How errors inside model math are handled.
///
/// Tensor operations never `throw`, so that `forward` reads like the math it is. A failing operation
/// returns an *invalid* tensor, and later operations on it fail too without calling libtorch. What happens
/// to the first error depends on the scope:
/// - inside `Torch.catching { … }` it is recorded and thrown when the block ends;
/// - outside any such scope it stops the process with libtorch's message (a programming error, like an
///   out-of-range index in Swift).
/// Boundaries — files, configs, data, devices — use `throws` as usual.
final class ErrorSink: @unchecked Sendable {
    var first: TorchError?
}

enum ErrorScope {
    @TaskLocal static var sink: ErrorSink?
}

public enum Torch {
    /// Runs `body`, turning the first libtorch failure inside it into a thrown `TorchError`.
    public static func catching<R>(_ body: () throws -> R) throws -> R {
        let sink = ErrorSink()
        let result = try ErrorScope.$sink.withValue(sink) { try body() }
        if let error = sink.first { throw error }
        return result
    }
}

/// Reports the failure of `operation` (whose message the shim holds for this thread).
@usableFromInline
func reportFailure(_ operation: StaticString) {
    let error = TorchError(operation: "\(operation)", message: String(cString: ct_last_error()))
    if let sink = ErrorScope.sink {
        if sink.first == nil { sink.first = error }
    } else {
        fatalError("libtorch error in \(error.operation): \(error.message)")
    }
}

/// Calls a shim function producing one tensor; a failure yields an invalid tensor (see `ErrorSink`).
@inline(__always)
func produce(_ operation: StaticString, _ call: (UnsafeMutablePointer<OpaquePointer?>) -> Int32) -> Tensor {
    var out: OpaquePointer?
    if call(&out) != 0 {
        reportFailure(operation)
        return Tensor(handle: nil)
    }
    return Tensor(handle: out)
}

/// Calls a shim function with no tensor result; returns whether it succeeded.
@inline(__always)
@discardableResult
func perform(_ operation: StaticString, _ call: () -> Int32) -> Bool {
    if call() != 0 {
        reportFailure(operation)
        return false
    }
    return true
}

@inline(__always)
func withInt64s<R>(_ values: [Int], _ body: (UnsafePointer<Int64>?, Int32) -> R) -> R {
    let converted = values.map(Int64.init)
    return converted.withUnsafeBufferPointer { body($0.baseAddress, Int32(values.count)) }
}

@inline(__always)
func withHandles<R>(_ tensors: [Tensor], _ body: (UnsafePointer<OpaquePointer?>?) -> R) -> R {
    let handles = tensors.map(\.handle)
    return withExtendedLifetime(tensors) {
        handles.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
