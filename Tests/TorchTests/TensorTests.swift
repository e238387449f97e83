import Foundation
import Testing

@testable import Torch

@Suite("Tensor creation and reading back")
struct TensorTests {
    /// bf16 bit patterns of 1, -2.5, 3.140625 and 0 (bf16 is the top half of an f32).
    static let bfloat16Bits: [UInt16] = [0x3F80, 0xC020, 0x4049, 0x0000]

    @Test("from Swift arrays and back, every dtype", arguments: DType.allCases)
    func roundTrip(dtype: DType) throws {
        try Torch.catching {
            let shape = [2, 2]
            let tensor: Tensor
            let expected: [Double]
            switch dtype {
            case .float32:
                tensor = Tensor([1.5, -2.25, 3e-8, 65536] as [Float], shape: shape)
                #expect(tensor.toArray(Float.self) == [1.5, -2.25, 3e-8, 65536])
                expected = [1.5, -2.25, Double(Float(3e-8)), 65536]
            case .float64:
                tensor = Tensor([Double.pi, -1e300, Double.leastNonzeroMagnitude, 0], shape: shape)
                #expect(tensor.toArray(Double.self) == [Double.pi, -1e300, Double.leastNonzeroMagnitude, 0])
                expected = [Double.pi, -1e300, Double.leastNonzeroMagnitude, 0]
            case .float16:
                tensor = Tensor([0.5, -1, 65504, 6.103515625e-05] as [Float16], shape: shape)
                #expect(tensor.toArray(Float16.self) == [0.5, -1, 65504, 6.103515625e-05])
                expected = [0.5, -1, 65504, 6.103515625e-05]
            case .bfloat16:
                tensor = Self.bfloat16Bits.withUnsafeBytes { Tensor(bytes: $0, dtype: .bfloat16, shape: shape) }
                #expect(tensor.rawBytes() == Self.bfloat16Bits.withUnsafeBytes { Array($0) })
                expected = [1, -2.5, 3.140625, 0]
            case .int64:
                tensor = Tensor([Int64.max, Int64.min, -3, 0], shape: shape)
                #expect(tensor.toArray(Int64.self) == [Int64.max, Int64.min, -3, 0])
                expected = [Double(Int64.max), Double(Int64.min), -3, 0]
            case .int32:
                tensor = Tensor([Int32.max, Int32.min, 7, -7], shape: shape)
                #expect(tensor.toArray(Int32.self) == [Int32.max, Int32.min, 7, -7])
                expected = [Double(Int32.max), Double(Int32.min), 7, -7]
            case .uint8:
                tensor = Tensor([0, 255, 128, 1] as [UInt8], shape: shape)
                #expect(tensor.toArray(UInt8.self) == [0, 255, 128, 1])
                expected = [0, 255, 128, 1]
            case .bool:
                tensor = Tensor([true, false, false, true], shape: shape)
                #expect(tensor.toArray(Bool.self) == [true, false, false, true])
                expected = [1, 0, 0, 1]
            }
            #expect(tensor.dtype == dtype)
            #expect(tensor.shape == shape)
            #expect(tensor.count == 4)
            #expect(tensor.rank == 2)
            #expect(tensor.device == .cpu)
            #expect(tensor.rawBytes().count == 4 * dtype.byteSize)
            #expect(tensor.toArray(Double.self) == expected)
        }
    }

    @Test func conversionsBetweenDtypesFollowLibtorch() throws {
        try Torch.catching {
            let values = Tensor([1.7, -2.2, 1.00390625, 300] as [Float])
            #expect(values.toArray(Int64.self) == [1, -2, 1, 300], "float to int truncates toward zero")
            #expect(values.to(.bfloat16).toArray(Float.self) == [1.703125, -2.203125, 1, 300],
                    "bf16 rounds to nearest even")
            #expect(values.to(.float16).toArray(Float.self) == [1.7001953125, -2.19921875, 1.00390625, 300])
            #expect(values.to(.uint8).dtype == .uint8)
            #expect(Tensor([0, 2, -1] as [Int64]).toArray(Bool.self) == [false, true, true])
            #expect(Tensor([1] as [Float]).rawBytes() == [0, 0, 0x80, 0x3F], "little-endian f32 bytes")
        }
    }

    @Test func scalarsAreZeroDimensional() throws {
        try Torch.catching {
            let scalar = Tensor(scalar: 2.5)
            #expect(scalar.shape == [])
            #expect(scalar.rank == 0)
            #expect(scalar.count == 1)
            #expect(scalar.item() == 2.5)
            #expect(Tensor(scalar: Int64(-9)).intItem() == -9)
            #expect(Tensor(scalar: true).dtype == .bool)
        }
    }

    @Test func emptyTensorsHaveNoValues() throws {
        try Torch.catching {
            let empty = Tensor([] as [Float], shape: [0, 3])
            #expect(empty.shape == [0, 3])
            #expect(empty.count == 0)
            #expect(empty.toArray(Float.self) == [])
            #expect(empty.rawBytes() == [])
        }
    }

    @Test func fullZerosOnesAndArange() throws {
        try Torch.catching {
            let sevens = Tensor.full([2, 3], 7, dtype: .int32)
            #expect(sevens.dtype == .int32 && sevens.shape == [2, 3])
            #expect(sevens.toArray(Int32.self) == Array(repeating: 7, count: 6))
            #expect(Tensor.zeros([3]).toArray(Float.self) == [0, 0, 0])
            #expect(Tensor.zeros([3]).dtype == .float32)
            #expect(Tensor.ones([2], dtype: .float64).toArray(Double.self) == [1, 1])
            #expect(Tensor.ones([2], dtype: .bool).toArray(Bool.self) == [true, true])
            #expect(Tensor.full([], -0.5).item() == -0.5)
            let range = Tensor.arange(5)
            #expect(range.dtype == .int64)
            #expect(range.toArray(Int64.self) == [0, 1, 2, 3, 4])
            let stepped = Tensor.arange(from: 0.5, to: 2, step: 0.5)
            #expect(stepped.dtype == .float32)
            #expect(stepped.toArray(Float.self) == [0.5, 1, 1.5])
            #expect(Tensor.arange(from: 3, to: 0, step: -1, dtype: .int64).toArray(Int64.self) == [3, 2, 1])
            let empty = Tensor.empty([4, 2], dtype: .float16)
            #expect(empty.shape == [4, 2] && empty.dtype == .float16)
        }
    }

    @Test func seededDrawsEqualPyTorchs() throws {
        let reference = try TorchReference.shared.random
        try Torch.catching {
            let normal = Tensor.randn([2, 3], generator: Generator(seed: reference.seed))
            #expect(normal.dtype == .float32 && normal.shape == [2, 3])
            #expect(normal.toArray(Double.self) == reference.randn_f32_2x3)
            let normal64 = Tensor.randn([5], dtype: .float64, generator: Generator(seed: reference.seed))
            #expect(normal64.toArray(Double.self) == reference.randn_f64_5)
            #expect(Tensor.rand([4], generator: Generator(seed: reference.seed)).toArray(Double.self) == reference.rand_f32_4)
            let integers = Tensor.randint(0, 10, [8], generator: Generator(seed: reference.seed))
            #expect(integers.dtype == .int64)
            #expect(integers.toArray(Int64.self) == reference.randint_0_10_8)
            #expect(Tensor.randperm(6, generator: Generator(seed: reference.seed)).toArray(Int64.self) == reference.randperm_6)
        }
    }

    @Test func generatorsAreDeterministicAndRestorable() throws {
        try Torch.catching {
            let first = Generator(seed: 5)
            let second = Generator(seed: 5)
            let a = Tensor.randn([16], generator: first).toArray(Float.self)
            #expect(a == Tensor.randn([16], generator: second).toArray(Float.self))
            #expect(a != Tensor.randn([16], generator: Generator(seed: 6)).toArray(Float.self))
            #expect(a != Tensor.randn([16], generator: first).toArray(Float.self), "a generator advances")

            let saved = first.state
            #expect(saved.dtype == .uint8 && saved.count > 0)
            let next = Tensor.rand([8], generator: first).toArray(Float.self)
            first.restore(saved)
            #expect(Tensor.rand([8], generator: first).toArray(Float.self) == next)

            let uniform = Tensor.rand([1000], generator: Generator(seed: 1)).toArray(Float.self)
            #expect(uniform.allSatisfy { $0 >= 0 && $0 < 1 })
            let integers = Tensor.randint(-3, 4, [1000], dtype: .int32, generator: Generator(seed: 1))
            #expect(integers.dtype == .int32)
            let drawn = Set(integers.toArray(Int32.self))
            #expect(drawn == Set(-3...3))
        }
    }

    @Test func inPlaceInitialisersUseTheGenerator() throws {
        try Torch.catching {
            let a = Tensor.empty([64])
            let b = Tensor.empty([64])
            a.uniform_(-0.25, 0.25, generator: Generator(seed: 9))
            b.uniform_(-0.25, 0.25, generator: Generator(seed: 9))
            let values = a.toArray(Float.self)
            #expect(values == b.toArray(Float.self))
            #expect(values.allSatisfy { $0 >= -0.25 && $0 < 0.25 })
            a.normal_(mean: 10, std: 0.001, generator: Generator(seed: 9))
            #expect(a.toArray(Float.self).allSatisfy { Swift.abs($0 - 10) < 0.01 })
        }
    }

    @Test func viewsShareStorageAndCopiesDoNot() throws {
        try Torch.catching {
            let base = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
            let transposed = base.transpose(0, 1)
            #expect(transposed.sharesData(with: base))
            #expect(!transposed.isContiguous)
            let compact = transposed.contiguous()
            #expect(compact.isContiguous && !compact.sharesData(with: base))
            #expect(!base.clone().sharesData(with: base))
            #expect(base.reshape([3, 2]).sharesData(with: base))
            #expect(base.detach().sharesData(with: base))
        }
    }

    @Test func descriptionShowsShapeDtypeAndSmallValues() throws {
        try Torch.catching {
            #expect(Tensor([1, 2] as [Float]).description == "Tensor(shape: [2], dtype: f32, device: cpu, values: [1.0, 2.0])")
            #expect(!Tensor.zeros([17]).description.contains("values"))
        }
    }

    @Test func dtypeAndDeviceNamesParse() {
        #expect(DType(name: "fp16") == .float16)
        #expect(DType(name: "BF16") == .bfloat16)
        #expect(DType(name: "float") == .float32)
        #expect(DType(name: "int8") == nil)
        #expect(DType.allCases.allSatisfy { DType(name: $0.description) == $0 })
        #expect(Device(name: "cpu") == .cpu)
        #expect(Device(name: "cuda") == .cuda(0))
        #expect(Device(name: "cuda:3") == .cuda(3))
        #expect(Device(name: "cuda:-1") == nil)
        #expect(Device(name: "tpu") == nil)
        #expect(Device.cuda(2).description == "cuda:2")
    }

    @Test func runtimeReportsThePinnedLibtorch() throws {
        let warning = try Runtime.checkVersion()
        if Runtime.torchVersion.hasPrefix(Runtime.pinnedTorchVersion) {
            #expect(warning == nil)
        } else {
            #expect(warning?.contains("differs from the pinned \(Runtime.pinnedTorchVersion)") == true)
        }
        #expect(Runtime.torchLibraryPath.contains("libtorch_cpu"))
        #expect(Runtime.threads >= 1)
        #expect(!Runtime.buildConfiguration.isEmpty)
    }
}
