import Testing

@testable import Torch

@Suite("Shape, indexing and conversion")
struct ShapeTests {
    /// [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    let grid = Tensor.arange(12).reshape([3, 4])

    @Test func reshapeViewPermuteTranspose() throws {
        try Torch.catching {
            #expect(grid.shape == [3, 4])
            #expect(grid.reshape([2, -1]).shape == [2, 6])
            #expect(grid.view([4, 3]).toArray(Int64.self) == Array(0...11))
            let cube = Tensor.arange(24).reshape([2, 3, 4])
            let permuted = cube.permute([2, 0, 1])
            #expect(permuted.shape == [4, 2, 3])
            #expect(permuted.toArray(Int64.self).prefix(6) == [0, 4, 8, 12, 16, 20])
            let transposed = grid.transpose(0, 1)
            #expect(transposed.shape == [4, 3])
            #expect(transposed.toArray(Int64.self) == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
            #expect(transposed.contiguous().view([12]).toArray(Int64.self) == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
            #expect(grid.transpose(-1, -2).shape == [4, 3])
        }
    }

    @Test func viewOfANonContiguousTensorFailsWithLibtorchsHint() {
        #expect {
            try Torch.catching { _ = grid.transpose(0, 1).view([12]) }
        } throws: { error in
            let error = error as? TorchError
            return error?.operation == "view" && error?.message.contains("Use .reshape(...) instead") == true
        }
    }

    @Test func squeezeUnsqueezeExpandFlatten() throws {
        try Torch.catching {
            let column = f64([1, 2, 3], [3, 1])
            #expect(column.squeeze(1).shape == [3])
            #expect(column.squeeze(0).shape == [3, 1], "a dimension that is not 1 stays")
            #expect(column.unsqueeze(0).shape == [1, 3, 1])
            #expect(column.unsqueeze(-1).shape == [3, 1, 1])
            let expanded = column.expand([3, 4])
            #expect(expanded.shape == [3, 4])
            #expect(expanded.sharesData(with: column), "expand is a view")
            expectValues(expanded, [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
            expectValues(column.expand([2, -1, 2]), [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3], shape: [2, 3, 2])
            let cube = Tensor.arange(24).reshape([2, 3, 4])
            #expect(cube.flatten().shape == [24])
            #expect(cube.flatten(from: 1).shape == [2, 12])
            #expect(cube.flatten(from: 0, to: 1).shape == [6, 4])
            #expect(f64([1, 2], [1, 2]).repeated([2, 2]).toArray(Double.self) == [1, 2, 1, 2, 1, 2, 1, 2])
        }
    }

    @Test func catStackSplitChunk() throws {
        try Torch.catching {
            let a = f64([1, 2, 3, 4], [2, 2])
            let b = f64([5, 6], [1, 2])
            expectValues(cat([a, b]), [1, 2, 3, 4, 5, 6], shape: [3, 2])
            expectValues(cat([a, a], dim: 1), [1, 2, 1, 2, 3, 4, 3, 4], shape: [2, 4])
            expectValues(cat([a, a], dim: -1), [1, 2, 1, 2, 3, 4, 3, 4], shape: [2, 4])
            expectValues(stack([a, a * 10]), [1, 2, 3, 4, 10, 20, 30, 40], shape: [2, 2, 2])
            expectValues(stack([a, a * 10], dim: 2), [1, 10, 2, 20, 3, 30, 4, 40], shape: [2, 2, 2])

            let pieces = Tensor.arange(7).split(sizes: [2, 4, 1])
            #expect(pieces.map(\.shape) == [[2], [4], [1]])
            #expect(pieces[1].toArray(Int64.self) == [2, 3, 4, 5])
            #expect(Tensor.arange(7).split(size: 3).map { $0.toArray(Int64.self) } == [[0, 1, 2], [3, 4, 5], [6]])
            let chunks = Tensor.arange(7).chunk(3)
            #expect(chunks.map(\.count) == [3, 3, 1], "as torch.chunk: pieces of ceil(7 / 3)")
            let columns = grid.split(sizes: [1, 3], dim: 1)
            #expect(columns.map(\.shape) == [[3, 1], [3, 3]])
            #expect(columns[0].toArray(Int64.self) == [0, 4, 8])
            #expect(grid.chunk(2, dim: 1).map(\.shape) == [[3, 2], [3, 2]])
            #expect(Tensor.arange(6).chunk(4).map(\.count) == [2, 2, 2], "as torch.chunk: fewer pieces than asked")
            let empty = Tensor.zeros([0, 3])
            #expect(empty.chunk(2).map(\.shape) == [[0, 3], [0, 3]], "as torch.chunk of an empty tensor")
            #expect(empty.split(size: 2).map(\.shape) == [[0, 3]], "as torch.split of an empty tensor")
        }
    }

    @Test func sliceSelectNarrowSubscript() throws {
        try Torch.catching {
            #expect(grid.slice(dim: 1, start: 1, end: 3).toArray(Int64.self) == [1, 2, 5, 6, 9, 10])
            #expect(grid.slice(dim: 1, start: -2).toArray(Int64.self) == [2, 3, 6, 7, 10, 11])
            #expect(grid.slice(dim: 1, step: 2).toArray(Int64.self) == [0, 2, 4, 6, 8, 10])
            #expect(grid.slice(dim: 0, start: 1, end: -1).toArray(Int64.self) == [4, 5, 6, 7])
            #expect(grid.slice(dim: 0, start: 5).shape == [0, 4], "a slice past the end is empty")
            #expect(grid.select(dim: 1, index: 2).toArray(Int64.self) == [2, 6, 10])
            #expect(grid.select(dim: 0, index: -1).toArray(Int64.self) == [8, 9, 10, 11])
            #expect(grid[1].toArray(Int64.self) == [4, 5, 6, 7])
            #expect(grid[1].shape == [4])
            #expect(grid.narrow(dim: 1, start: 1, length: 2).toArray(Int64.self) == [1, 2, 5, 6, 9, 10])
        }
    }

    @Test func gatherScatterAndIndexSelect() throws {
        try Torch.catching {
            let rows = grid.indexSelect(dim: 0, index: Tensor([2, 0] as [Int64]))
            #expect(rows.toArray(Int64.self) == [8, 9, 10, 11, 0, 1, 2, 3])
            let cols = grid.indexSelect(dim: 1, index: Tensor([3, 3, 1] as [Int64]))
            #expect(cols.toArray(Int64.self) == [3, 3, 1, 7, 7, 5, 11, 11, 9])

            let picks = Tensor([1, 3, 0, 0, 2, 2] as [Int64], shape: [3, 2])
            #expect(grid.gather(dim: 1, index: picks).toArray(Int64.self) == [1, 3, 4, 4, 10, 10])
            let down = Tensor([2, 0, 1, 1] as [Int64], shape: [1, 4])
            #expect(grid.gather(dim: 0, index: down).toArray(Int64.self) == [8, 1, 6, 7])

            let zeros = Tensor.zeros([2, 4], dtype: .float64)
            let source = f64([5, 6, 7, 8], [2, 2])
            let distinct = Tensor([3, 0, 1, 2] as [Int64], shape: [2, 2])
            expectValues(zeros.scatter(dim: 1, index: distinct, source: source), [6, 0, 0, 5, 0, 7, 8, 0])
            let repeated = Tensor([3, 0, 1, 1] as [Int64], shape: [2, 2])
            expectValues(zeros.scatterAdd(dim: 1, index: repeated, source: source), [6, 0, 0, 5, 0, 15, 0, 0],
                         "scatterAdd adds both values written to the same place")
            #expect(zeros.toArray(Double.self) == Array(repeating: 0, count: 8), "scatter makes a copy")
        }
    }

    @Test func maskedFillWhereMaskedSelect() throws {
        try Torch.catching {
            let values = f64([1, -2, 3, -4], [2, 2])
            let negative = values.lt(0)
            expectValues(values.maskedFill(negative, -1e9), [1, -1e9, 3, -1e9])
            let rowMask = Tensor([true, false], shape: [2, 1])
            expectValues(values.maskedFill(rowMask, 0), [0, 0, 3, -4], "the mask broadcasts")
            expectValues(values.where(negative, else: f64([0])), [0, -2, 0, -4])
            expectValues(values.where(negative.logicalNot(), else: values * -1), [1, 2, 3, 4])
            expectValues(values.maskedSelect(negative), [-2, -4], shape: [2])
            #expect(Tensor.arange(6).maskedSelect(Tensor.arange(6).gt(3)).toArray(Int64.self) == [4, 5])
        }
    }

    @Test func oneHotTrilFlipRollPad() throws {
        try Torch.catching {
            let hot = Tensor([2, 0] as [Int64]).oneHot(classes: 3)
            #expect(hot.dtype == .int64 && hot.shape == [2, 3])
            #expect(hot.toArray(Int64.self) == [0, 0, 1, 1, 0, 0])
            #expect(Tensor.ones([3, 3], dtype: .int64).tril().toArray(Int64.self) == [1, 0, 0, 1, 1, 0, 1, 1, 1])
            #expect(Tensor.ones([2, 3], dtype: .int64).tril(diagonal: 1).toArray(Int64.self) == [1, 1, 0, 1, 1, 1])
            #expect(grid.flip([1])[0].toArray(Int64.self) == [3, 2, 1, 0])
            #expect(Tensor.arange(5).roll(shifts: [2], dims: [0]).toArray(Int64.self) == [3, 4, 0, 1, 2])
            let padded = f64([1, 2, 3, 4], [2, 2]).padded([1, 0, 0, 1], value: -1)
            expectValues(padded, [-1, 1, 2, -1, 3, 4, -1, -1, -1], shape: [3, 3])
        }
    }

    @Test func dtypeAndDeviceConversion() throws {
        try Torch.catching {
            let floats = Tensor([1.5, 2.5] as [Float])
            #expect(floats.to(.float64).dtype == .float64)
            #expect(floats.to(.int32).toArray(Int32.self) == [1, 2])
            #expect(floats.to(.cpu).device == .cpu)
            let both = floats.to(.cpu, .float16)
            #expect(both.dtype == .float16 && both.toArray(Float.self) == [1.5, 2.5])
            #expect(floats.to(.float32).sharesData(with: floats), "converting to the same dtype is free")
        }
    }
}
