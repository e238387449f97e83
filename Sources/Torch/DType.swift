/// Element types, numbered as libtorch's `c10::ScalarType`.
public enum DType: Int32, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case uint8 = 0
    case int32 = 3
    case int64 = 4
    case float16 = 5
    case float32 = 6
    case float64 = 7
    case bool = 11
    case bfloat16 = 15

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .uint8, .bool: 1
        case .float16, .bfloat16: 2
        case .int32, .float32: 4
        case .int64, .float64: 8
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .bfloat16, .float32, .float64: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .uint8: "u8"
        case .int32: "i32"
        case .int64: "i64"
        case .float16: "f16"
        case .float32: "f32"
        case .float64: "f64"
        case .bool: "bool"
        case .bfloat16: "bf16"
        }
    }

    /// Parses `f32`, `float32`, `fp16`, `bf16`, … as users write them.
    public init?(name: String) {
        switch name.lowercased() {
        case "u8", "uint8": self = .uint8
        case "i32", "int32": self = .int32
        case "i64", "int64": self = .int64
        case "f16", "fp16", "float16", "half": self = .float16
        case "f32", "fp32", "float32", "float": self = .float32
        case "f64", "fp64", "float64", "double": self = .float64
        case "bool": self = .bool
        case "bf16", "bfloat16": self = .bfloat16
        default: return nil
        }
    }
}

/// Where a tensor lives.
public enum Device: Hashable, Sendable, CustomStringConvertible {
    case cpu
    case cuda(Int)

    var typeCode: Int32 {
        switch self {
        case .cpu: 0
        case .cuda: 1
        }
    }
    var indexCode: Int32 {
        switch self {
        case .cpu: -1
        case .cuda(let index): Int32(index)
        }
    }

    init(typeCode: Int32, index: Int32) {
        self = typeCode == 1 ? .cuda(Int(max(index, 0))) : .cpu
    }

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .cuda(let index): "cuda:\(index)"
        }
    }

    /// Parses `cpu`, `cuda`, `cuda:1`.
    public init?(name: String) {
        let lowered = name.lowercased()
        if lowered == "cpu" {
            self = .cpu
        } else if lowered == "cuda" {
            self = .cuda(0)
        } else if lowered.hasPrefix("cuda:"), let index = Int(lowered.dropFirst(5)), index >= 0 {
            self = .cuda(index)
        } else {
            return nil
        }
    }

    /// Parses a device named by a user (`cpu`, `cuda`, `cuda:N`) and checks that it is here.
    /// - Parameter setting: what the name was given as, for the message (`--device`, `train.device`).
    public init(parsing name: String, setting: String = "device") throws {
        guard let device = Device(name: name) else {
            throw DeviceError("\(setting) '\(name)': expected cpu, cuda or cuda:N")
        }
        if case .cuda(let index) = device {
            guard Runtime.cudaAvailable, index < Runtime.cudaDeviceCount else {
                throw DeviceError("\(setting) \(name): CUDA is not available here (\(Runtime.cudaDeviceCount) devices); "
                    + "run `vidtag doctor`, or use cpu")
            }
        }
        self = device
    }
}

/// A device that was named wrongly or is not on this machine.
public struct DeviceError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
