/// A strided view of a flat storage (shape, strides and offset in elements, as PyTorch records them): the
/// bounds check and the copy into row-major order that turn a checkpoint's views into contiguous tensors.
enum StridedView {
    struct Problem: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Checks that every element of the view lies in a storage of `storageCount` elements, and that the view
    /// holds no more elements than the storage (a view repeating elements, as `expand` makes, is refused so that
    /// a small file cannot ask for a huge copy).
    static func check(shape: [Int], strides: [Int], offset: Int, storageCount: Int) throws(Problem) {
        guard shape.count == strides.count else {
            throw Problem("size \(shape) and stride \(strides) have different lengths")
        }
        guard shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }), offset >= 0 else {
            throw Problem("negative size, stride or offset (size \(shape), stride \(strides), offset \(offset))")
        }
        var count = 1
        for size in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw Problem("size \(shape) has more elements than an Int counts") }
            count = product
        }
        guard count > 0 else { return }
        var last = offset
        for (size, stride) in zip(shape, strides) {
            let (step, overflow) = (size - 1).multipliedReportingOverflow(by: stride)
            let (sum, overflowSum) = last.addingReportingOverflow(step)
            guard !overflow, !overflowSum else { throw Problem("stride \(strides) reaches beyond an Int") }
            last = sum
        }
        guard last < storageCount else {
            throw Problem("view (size \(shape), stride \(strides), offset \(offset)) reaches element \(last) of a "
                + "storage of \(storageCount): truncated or corrupt")
        }
        guard count <= storageCount else {
            throw Problem("view (size \(shape), stride \(strides)) repeats elements of its storage of \(storageCount) "
                + "(an expanded tensor): re-save it with .contiguous()")
        }
    }

    /// The element range when the view is already row-major contiguous (sizes of 1 have any stride).
    static func contiguousRange(shape: [Int], strides: [Int], offset: Int) -> Range<Int>? {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() {
            if size == 0 { return 0..<0 }
            if size != 1, stride != expected { return nil }
            expected *= size
        }
        return offset..<(offset + expected)
    }

    /// Copies the view's elements (of `elementSize` bytes each) into row-major order. The view must have passed
    /// `check`.
    static func gather(_ storage: UnsafeRawBufferPointer, elementSize: Int, shape: [Int], strides: [Int],
                       offset: Int) -> [UInt8] {
        let count = shape.reduce(1, *)
        var result = [UInt8](repeating: 0, count: count * elementSize)
        guard count > 0 else { return result }
        let inner = shape.last ?? 1
        let innerStride = strides.last ?? 1
        let outer = shape.dropLast()
        let outerStrides = strides.dropLast()
        var index = [Int](repeating: 0, count: outer.count)
        result.withUnsafeMutableBytes { output in
            var written = 0
            for _ in 0..<(count / inner) {
                var source = offset
                for (position, stride) in zip(index, outerStrides) { source += position * stride }
                if innerStride == 1 {
                    let bytes = inner * elementSize
                    output.baseAddress!.advanced(by: written)
                        .copyMemory(from: storage.baseAddress!.advanced(by: source * elementSize), byteCount: bytes)
                    written += bytes
                } else {
                    for element in 0..<inner {
                        output.baseAddress!.advanced(by: written).copyMemory(
                            from: storage.baseAddress!.advanced(by: (source + element * innerStride) * elementSize),
                            byteCount: elementSize)
                        written += elementSize
                    }
                }
                // Next position of the outer dimensions, last fastest.
                var dimension = outer.count - 1
                while dimension >= 0 {
                    index[dimension] += 1
                    if index[dimension] < outer[outer.startIndex + dimension] { break }
                    index[dimension] = 0
                    dimension -= 1
                }
            }
        }
        return result
    }
}
