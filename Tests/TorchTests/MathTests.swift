import Foundation
import Testing

@testable import Torch

@Suite("Element-wise math, matrix products, reductions, comparisons")
struct MathTests {
    let matrix = f64([1, -2, 3, 0.5, 4, -6], [2, 3])

    @Test func arithmeticBroadcasts() throws {
        try Torch.catching {
            let row = f64([10, 20, 30], [3])
            let column = f64([2, -1], [2, 1])
            expectValues(matrix + row, [11, 18, 33, 10.5, 24, 24], shape: [2, 3])
            expectValues(matrix - column, [-1, -4, 1, 1.5, 5, -5], shape: [2, 3])
            expectValues(matrix * column, [2, -4, 6, -0.5, -4, 6], shape: [2, 3])
            expectValues(matrix / row, [0.1, -0.1, 0.1, 0.05, 0.2, -0.2], shape: [2, 3])
            expectValues(column * f64([1, 2, 3], [1, 3]), [2, 4, 6, -1, -2, -3], shape: [2, 3])
            expectValues(-matrix, [-1, 2, -3, -0.5, -4, 6])
        }
    }

    @Test func doubleScalarsPromoteAndIntScalarsKeepIntegers() throws {
        try Torch.catching {
            let integers = Tensor([1, 2, 3] as [Int64])
            let plusTwo = integers + 2
            #expect(plusTwo.dtype == .int64)
            #expect(plusTwo.toArray(Int64.self) == [3, 4, 5])
            #expect((integers * 3).dtype == .int64)
            #expect((integers - 1).toArray(Int64.self) == [0, 1, 2])
            #expect((10 - integers).toArray(Int64.self) == [9, 8, 7])
            #expect((2 * integers).toArray(Int64.self) == [2, 4, 6])
            #expect((5 + integers).toArray(Int64.self) == [6, 7, 8])
            let narrow = Tensor([7, -7] as [Int32])
            #expect((narrow + 1).dtype == .int32, "an Int scalar does not widen i32")
            #expect(narrow.remainder(3).toArray(Int32.self) == [1, 2], "remainder has the divisor's sign")
            #expect(narrow.floorDivide(2).toArray(Int32.self) == [3, -4])

            let half = integers + 0.5
            #expect(half.dtype == .float32, "a Double scalar turns an int tensor into the default float")
            #expect(half.toArray(Float.self) == [1.5, 2.5, 3.5])
            let floats = Tensor([1, 2, 4] as [Float])
            #expect((floats * 2.0).dtype == .float32, "a Double scalar keeps f32 as f32")
            #expect((floats * 2).dtype == .float32)
            #expect((1.0 - floats).toArray(Float.self) == [0, -1, -3])
            #expect((2.0 / floats).toArray(Float.self) == [2, 1, 0.5])
            #expect((floats / 4.0).toArray(Float.self) == [0.25, 0.5, 1])
            #expect((3.0 + floats).toArray(Float.self) == [4, 5, 7])
            #expect((Tensor([1, 2] as [Float16]) * 3.0).dtype == .float16)
        }
    }

    @Test func unaryFunctionsMatchFoundation() throws {
        let values: [Double] = [-2.5, -0.3, 0, 0.7, 1.9]
        let positive: [Double] = [0.1, 0.5, 1, 2.5, 9]
        let x = f64(values)
        let p = f64(positive)
        try Torch.catching {
            expectValues(x.exp(), values.map { Foundation.exp($0) })
            expectValues(p.log(), positive.map { Foundation.log($0) })
            expectValues(p.log1p(), positive.map { Foundation.log1p($0) })
            expectValues(p.sqrt(), positive.map { $0.squareRoot() })
            expectValues(p.rsqrt(), positive.map { 1 / $0.squareRoot() })
            expectValues(p.pow(1.5), positive.map { Foundation.pow($0, 1.5) })
            expectValues(p.pow(f64([2, 0.5, 3, -1, 0])), [0.01, (0.5).squareRoot(), 1, 0.4, 1])
            expectValues(x.tanh(), values.map { Foundation.tanh($0) })
            expectValues(x.sigmoid(), values.map { 1 / (1 + Foundation.exp(-$0)) })
            expectValues(x.relu(), values.map { Swift.max($0, 0) })
            expectValues(x.silu(), values.map { $0 / (1 + Foundation.exp(-$0)) })
            expectValues(x.gelu(), values.map { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) })
            expectValues(x.gelu(approximate: true), values.map {
                0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0)))
            })
            expectValues(x.quickGelu(), values.map { $0 / (1 + Foundation.exp(-1.702 * $0)) })
            expectValues(x.erf(), values.map { Foundation.erf($0) })
            expectValues(x.sin(), values.map { Foundation.sin($0) })
            expectValues(x.cos(), values.map { Foundation.cos($0) })
            expectValues(x.abs(), values.map { Swift.abs($0) })
            expectValues(x.square(), values.map { $0 * $0 })
            expectValues(p.reciprocal(), positive.map { 1 / $0 })
            expectValues(x.sign(), [-1, -1, 0, 1, 1])
            expectValues(x.floor(), [-3, -1, 0, 0, 1])
            expectValues(x.ceil(), [-2, -0.0, 0, 1, 2])
            expectValues(f64([0.5, 1.5, 2.5, -0.5, 2.6]).rounded(), [0, 2, 2, -0.0, 3], "round half to even")
            expectValues(x.clamp(min: -1, max: 1), [-1, -0.3, 0, 0.7, 1])
            expectValues(x.clamp(min: 0.5), [0.5, 0.5, 0.5, 0.7, 1.9])
            expectValues(x.clamp(max: 0), [-2.5, -0.3, 0, 0, 0])
            expectValues(x.maximum(p), [0.1, 0.5, 1, 2.5, 9])
            expectValues(x.minimum(f64([0])), [-2.5, -0.3, 0, 0, 0])
            expectValues(x.lerp(p, 0.25), zip(values, positive).map { $0 + 0.25 * ($1 - $0) })
        }
    }

    @Test func softmaxAndLogSoftmax() throws {
        try Torch.catching {
            let logits = f64([1, 2, 3, -1, 0, 1], [2, 3])
            let denominator = Foundation.exp(1.0) + Foundation.exp(2.0) + Foundation.exp(3.0)
            let row = [1.0, 2, 3].map { Foundation.exp($0) / denominator }
            let softmax = logits.softmax(dim: 1)
            expectValues(softmax, row + row, shape: [2, 3])
            expectValues(logits.logSoftmax(dim: -1), (row + row).map { Foundation.log($0) })
            let columns = logits.softmax(dim: 0)
            let a = 1 / (1 + Foundation.exp(-2.0))
            expectValues(columns, [a, a, a, 1 - a, 1 - a, 1 - a])
            let huge = f64([1000, 1000, -1000]).softmax(dim: 0)
            expectValues(huge, [0.5, 0.5, 0], "softmax is computed stably")
        }
    }

    @Test func matrixProducts() throws {
        try Torch.catching {
            let b = f64([1, 0, 2, 1, -1, 3], [3, 2])
            expectValues(matrix.matmul(b), [-6, 7, 14.5, -14], shape: [2, 2])
            let batch = stack([matrix, matrix * 2])
            expectValues(batch.matmul(b), [-6, 7, 14.5, -14, -12, 14, 29, -28], shape: [2, 2, 2],
                         "batched by broadcast")
            expectValues(batch.bmm(stack([b, b])), [-6, 7, 14.5, -14, -12, 14, 29, -28], shape: [2, 2, 2])
            expectValues(f64([1, 2, 3]).matmul(f64([4, 5, 6])), [32], shape: [], "vector dot product")
            let weight = f64([1, 0, 2, 1, -1, 3], [2, 3])
            expectValues(matrix.linear(weight: weight, bias: f64([0.5, -0.5])), [7.5, 11.5, -11, -22], shape: [2, 2])
            expectValues(matrix.linear(weight: weight), [7, 12, -11.5, -21.5])
        }
    }

    @Test func reductions() throws {
        try Torch.catching {
            expectValues(matrix.sum(), [0.5], shape: [])
            expectValues(matrix.sum(dim: 0), [1.5, 2, -3], shape: [3])
            expectValues(matrix.sum(dim: 1, keepDim: true), [2, -1.5], shape: [2, 1])
            expectValues(matrix.mean(), [0.5 / 6])
            expectValues(matrix.mean(dim: -1), [2.0 / 3, -0.5])
            expectValues(matrix.mean(dims: [0, 1], keepDim: true), [0.5 / 6], shape: [1, 1])
            expectValues(matrix.max(), [4])
            expectValues(matrix.min(), [-6])
            expectValues(matrix.max(dims: [1]), [3, 4])
            expectValues(matrix.min(dims: [0]), [0.5, -2, -6])
            let (values, indices) = matrix.max(dim: 1)
            expectValues(values, [3, 4])
            #expect(indices.dtype == .int64 && indices.toArray(Int64.self) == [2, 1])
            let (minValues, minIndices) = matrix.min(dim: 0, keepDim: true)
            expectValues(minValues, [0.5, -2, -6], shape: [1, 3])
            #expect(minIndices.toArray(Int64.self) == [1, 0, 1])
            #expect(matrix.argmax(dim: 1).toArray(Int64.self) == [2, 1])
            #expect(matrix.argmin(dim: 1).toArray(Int64.self) == [1, 2])
            #expect(matrix.argmax(dim: 0, keepDim: true).shape == [1, 3])

            let top = f64([0.1, 0.9, 0.4, 0.7, 0.2]).topk(3)
            expectValues(top.values, [0.9, 0.7, 0.4])
            #expect(top.indices.toArray(Int64.self) == [1, 3, 2])
            let bottom = f64([0.1, 0.9, 0.4, 0.7, 0.2]).topk(2, largest: false)
            #expect(bottom.indices.toArray(Int64.self) == [0, 4])
            let rowsTop = matrix.topk(1, dim: 1)
            #expect(rowsTop.values.shape == [2, 1])
            #expect(rowsTop.indices.toArray(Int64.self) == [2, 1])

            let vector = f64([3, -4, 0, 12])
            expectValues(vector.norm(), [13])
            expectValues(vector.norm(1), [19])
            expectValues(vector.norm(.infinity), [12])
            expectValues(matrix.norm(dims: [1]), [(14.0).squareRoot(), (52.25).squareRoot()])
            expectValues(f64([1, 2, 3, 4]).variance(), [5.0 / 3])
            expectValues(f64([1, 2, 3, 4]).variance(correction: 0), [1.25])
            expectValues(matrix.variance(dims: [0]), [0.125, 18, 40.5])
            expectValues(f64([1, 2, 3, 4]).std(correction: 0), [(1.25).squareRoot()])
            expectValues(f64([1, 2, 3, 4], [2, 2]).prod(), [24])
            expectValues(f64([1, 2, 3, 4], [2, 2]).prod(dims: [1]), [2, 12])
            expectValues(f64([0, Foundation.log(3.0)]).logSumExp(dims: [0]), [Foundation.log(4.0)])
            expectValues(f64([1, 2, 3, 4]).cumsum(dim: 0), [1, 3, 6, 10])
            #expect(Tensor([true, true, false]).all().toArray(Bool.self) == [false])
            #expect(Tensor([true, true, false]).any().toArray(Bool.self) == [true])
            #expect(Tensor([true, false, true, true], shape: [2, 2]).all(dims: [1]).toArray(Bool.self) == [false, true])
            #expect(Tensor([1, 2, 3] as [Int64]).sum().dtype == .int64)
        }
    }

    @Test func sortIsStable() throws {
        try Torch.catching {
            let (values, indices) = f64([2, 1, 2, 0, 1]).sorted()
            expectValues(values, [0, 1, 1, 2, 2])
            #expect(indices.toArray(Int64.self) == [3, 1, 4, 0, 2])
            let descending = f64([2, 1, 2, 0, 1]).sorted(descending: true)
            #expect(descending.indices.toArray(Int64.self) == [0, 2, 1, 4, 3])
        }
    }

    @Test func comparisonsAndLogic() throws {
        try Torch.catching {
            let a = f64([1, 2, 3])
            let b = f64([3, 2, 1])
            #expect(a.eq(b).dtype == .bool)
            #expect(a.eq(b).toArray(Bool.self) == [false, true, false])
            #expect(a.ne(b).toArray(Bool.self) == [true, false, true])
            #expect(a.lt(b).toArray(Bool.self) == [true, false, false])
            #expect(a.le(b).toArray(Bool.self) == [true, true, false])
            #expect(a.gt(b).toArray(Bool.self) == [false, false, true])
            #expect(a.ge(b).toArray(Bool.self) == [false, true, true])
            #expect(a.eq(2).toArray(Bool.self) == [false, true, false])
            #expect(a.ne(2).toArray(Bool.self) == [true, false, true])
            #expect(a.lt(2).toArray(Bool.self) == [true, false, false])
            #expect(a.le(2).toArray(Bool.self) == [true, true, false])
            #expect(a.gt(2).toArray(Bool.self) == [false, false, true])
            #expect(a.ge(2).toArray(Bool.self) == [false, true, true])
            #expect(a.gt(f64([2], [1])).toArray(Bool.self) == [false, false, true], "comparisons broadcast")
            let p = Tensor([true, true, false, false])
            let q = Tensor([true, false, true, false])
            #expect(p.logicalAnd(q).toArray(Bool.self) == [true, false, false, false])
            #expect(p.logicalOr(q).toArray(Bool.self) == [true, true, true, false])
            #expect(p.logicalNot().toArray(Bool.self) == [false, false, true, true])
            let special = f64([1, .infinity, -.infinity, .nan])
            #expect(special.isFinite().toArray(Bool.self) == [true, false, false, false])
            #expect(special.isNaN().toArray(Bool.self) == [false, false, false, true])
        }
    }
}
