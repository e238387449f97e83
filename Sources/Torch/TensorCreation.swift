import CTorch

/// A seeded random-number generator (a libtorch CPU generator). Draws made with it are the same for a
/// seed on every device: they are drawn on the CPU and then moved.
public final class Generator: @unchecked Sendable {
    let handle: OpaquePointer?

    public init(seed: UInt64) {
        var out: OpaquePointer?
        if ct_generator_new(seed, 0, &out) != 0 { reportFailure("Generator") }
        handle = out
    }

    /// A seeded generator of `device` (a CUDA generator for a CUDA device), independent of its default one.
    public init(seed: UInt64, device: Device) {
        var out: OpaquePointer?
        let code: Int32 = switch device {
        case .cpu: 0
        case .cuda(let index): 1 + Int32(index)
        }
        if ct_generator_new(seed, code, &out) != 0 { reportFailure("Generator") }
        handle = out
    }

    deinit { ct_generator_free(handle) }

    /// The generator's state (a u8 tensor), for checkpoints.
    public var state: Tensor { produce("generatorState") { ct_generator_get_state(handle, $0) } }

    public func restore(_ state: Tensor) {
        perform("generatorRestore") { ct_generator_set_state(handle, state.handle) }
    }

    /// The state of libtorch's default CPU generator (dropout draws from it).
    public static var defaultState: Tensor { produce("generatorState") { ct_generator_get_state(nil, $0) } }

    public static func restoreDefault(_ state: Tensor) {
        perform("generatorRestore") { ct_generator_set_state(nil, state.handle) }
    }

    /// The state of `device`'s default generator (the one dropout on that device draws from).
    public static func defaultState(on device: Device) -> Tensor {
        produce("generatorState") { ct_default_generator_get_state(device.typeCode, max(device.indexCode, 0), $0) }
    }

    public static func restoreDefault(_ state: Tensor, on device: Device) {
        perform("generatorRestore") { ct_default_generator_set_state(device.typeCode, max(device.indexCode, 0), state.handle) }
    }
}

/// A training run's own random stream for dropout: inside `withDropout`, dropout and attention dropout on this
/// thread draw from this generator rather than the device's process-wide default one, so two runs in one
/// process (K-fold, tests, a server training beside another) cannot disturb each other's masks.
public final class DropoutStream: @unchecked Sendable {
    public let device: Device
    let generator: Generator

    public init(seed: UInt64, device: Device) {
        self.device = device
        generator = Generator(seed: seed, device: device)
    }

    /// The generator's state (saved in checkpoints).
    public var state: Tensor { generator.state }

    public func restore(_ state: Tensor) { generator.restore(state) }

    /// Runs `body` with dropout on this thread drawing from this stream.
    public func withDropout<R>(_ body: () throws -> R) rethrows -> R {
        perform("setDropoutGenerator") { ct_set_dropout_generator(generator.handle) }
        defer { perform("setDropoutGenerator") { ct_set_dropout_generator(nil) } }
        return try body()
    }
}

extension Tensor {
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32, device: Device = .cpu) -> Tensor {
        withInt64s(shape) { dims, n in
            produce("full") { ct_full(dims, n, value, dtype.rawValue, device.typeCode, device.indexCode, $0) }
        }
    }
    public static func zeros(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) -> Tensor {
        full(shape, 0, dtype: dtype, device: device)
    }
    public static func ones(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) -> Tensor {
        full(shape, 1, dtype: dtype, device: device)
    }
    /// Uninitialised memory; `pinned` asks for page-locked host memory.
    public static func empty(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu, pinned: Bool = false)
        -> Tensor
    {
        withInt64s(shape) { dims, n in
            produce("empty") { ct_empty(dims, n, dtype.rawValue, device.typeCode, device.indexCode, pinned, $0) }
        }
    }
    public static func arange(_ end: Int, dtype: DType = .int64, device: Device = .cpu) -> Tensor {
        arange(from: 0, to: Double(end), step: 1, dtype: dtype, device: device)
    }
    public static func arange(from start: Double, to end: Double, step: Double = 1, dtype: DType = .float32,
                              device: Device = .cpu) -> Tensor {
        produce("arange") { ct_arange(start, end, step, dtype.rawValue, device.typeCode, device.indexCode, $0) }
    }
    /// Standard normal samples.
    public static func randn(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu,
                             generator: Generator? = nil) -> Tensor {
        random(0, shape, dtype, device, generator)
    }
    /// Uniform samples in [0, 1).
    public static func rand(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu,
                            generator: Generator? = nil) -> Tensor {
        random(1, shape, dtype, device, generator)
    }
    private static func random(_ kind: Int32, _ shape: [Int], _ dtype: DType, _ device: Device, _ generator: Generator?)
        -> Tensor
    {
        withExtendedLifetime(generator) {
            withInt64s(shape) { dims, n in
                produce("random") {
                    ct_random(kind, dims, n, dtype.rawValue, device.typeCode, device.indexCode, generator?.handle, $0)
                }
            }
        }
    }
    /// Integers in `low ..< high`.
    public static func randint(_ low: Int, _ high: Int, _ shape: [Int], dtype: DType = .int64, device: Device = .cpu,
                               generator: Generator? = nil) -> Tensor {
        withExtendedLifetime(generator) {
            withInt64s(shape) { dims, n in
                produce("randint") {
                    ct_randint(Int64(low), Int64(high), dims, n, dtype.rawValue, device.typeCode, device.indexCode,
                               generator?.handle, $0)
                }
            }
        }
    }
    public static func randperm(_ n: Int, device: Device = .cpu, generator: Generator? = nil) -> Tensor {
        withExtendedLifetime(generator) {
            produce("randperm") { ct_randperm(Int64(n), device.typeCode, device.indexCode, generator?.handle, $0) }
        }
    }

    /// Fills in place with normal samples (used for initialisation; not recorded by autograd).
    public func normal_(mean: Double = 0, std: Double = 1, generator: Generator? = nil) {
        withExtendedLifetime(generator) {
            perform("normal_") { ct_init_(handle, 0, mean, std, generator?.handle) }
        }
    }
    /// Fills in place with uniform samples in [low, high) (not recorded by autograd).
    public func uniform_(_ low: Double, _ high: Double, generator: Generator? = nil) {
        withExtendedLifetime(generator) {
            perform("uniform_") { ct_init_(handle, 1, low, high, generator?.handle) }
        }
    }
}
