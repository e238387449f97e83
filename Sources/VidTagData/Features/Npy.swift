import Foundation

/// The element types vidtag reads and writes in `.npy` files.
public enum NpyDType: String, Sendable, CaseIterable {
    /// `<f2`, what the WeChat feature zips hold.
    case float16 = "<f2"
    /// `<f4`.
    case float32 = "<f4"

    public var byteCount: Int { self == .float16 ? 2 : 4 }
}

/// What to do with NaN or infinite values in a feature array.
public enum NonFinitePolicy: Sendable, Equatable {
    /// Throw a ``FeatureError`` naming the first bad position.
    case reject
    /// Replace each by 0 and count them in ``FrameFeatures/replacedNonFinite``.
    case replaceWithZero
}

/// One video's frame features: `frameCount × dimension` floats, row-major (one row per frame).
public struct FrameFeatures: Sendable, Equatable {
    public var values: [Float]
    public var frameCount: Int
    public var dimension: Int
    /// NaN or infinite values replaced by 0 (always 0 under ``NonFinitePolicy/reject``).
    public var replacedNonFinite: Int

    public init(values: [Float], frameCount: Int, dimension: Int, replacedNonFinite: Int = 0) {
        precondition(values.count == frameCount * dimension, "FrameFeatures: \(values.count) values for \(frameCount)×\(dimension)")
        self.values = values
        self.frameCount = frameCount
        self.dimension = dimension
        self.replacedNonFinite = replacedNonFinite
    }

    /// Row `frame` (one frame's vector).
    public func frame(_ frame: Int) -> ArraySlice<Float> { values[(frame * dimension)..<((frame + 1) * dimension)] }
}

/// Reading and writing NumPy `.npy` arrays (format versions 1.0, 2.0 and 3.0; see numpy.lib.format).
public enum Npy {
    /// Encodes `values` (row-major, C order) as a version 1.0 `.npy` file, byte for byte as `numpy.save` writes it.
    public static func encode(values: [Float], shape: [Int], dtype: NpyDType) -> Data {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == values.count,
                     "Npy.encode: shape \(shape) does not hold \(values.count) values")
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)])
        data.append(contentsOf: Array(header.utf8))
        switch dtype {
        case .float16:
            var bytes = [UInt8](repeating: 0, count: values.count * 2)
            for (index, value) in values.enumerated() {
                let bits = HalfFloat.bits(from: value)
                bytes[2 * index] = UInt8(bits & 0xFF)
                bytes[2 * index + 1] = UInt8(bits >> 8)
            }
            data.append(contentsOf: bytes)
        case .float32:
            var bytes = [UInt8](repeating: 0, count: values.count * 4)
            for (index, value) in values.enumerated() {
                let bits = value.bitPattern
                for byte in 0..<4 { bytes[4 * index + byte] = UInt8((bits >> (8 * UInt32(byte))) & 0xFF) }
            }
            data.append(contentsOf: bytes)
        }
        return data
    }

    /// The parsed header of an `.npy` file.
    public struct Header: Sendable, Equatable {
        public var version: (major: UInt8, minor: UInt8)
        public var descr: String
        public var fortranOrder: Bool
        public var shape: [Int]
        /// Byte offset of the array data.
        public var dataOffset: Int

        public static func == (lhs: Header, rhs: Header) -> Bool {
            lhs.version == rhs.version && lhs.descr == rhs.descr && lhs.fortranOrder == rhs.fortranOrder
                && lhs.shape == rhs.shape && lhs.dataOffset == rhs.dataOffset
        }
    }

    /// Parses the header at the start of `bytes`. `source` and `member` name the array in errors.
    public static func parseHeader(_ bytes: UnsafeRawBufferPointer, source: String, member: String? = nil) throws -> Header {
        func fail(_ kind: FeatureError.Kind, _ problem: String, _ hint: String) -> FeatureError {
            FeatureError(kind: kind, source: source, member: member, problem: problem, hint: hint)
        }
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw fail(.notNpy, "does not start with the .npy magic \\x93NUMPY (\(bytes.count) bytes)",
                       "the member must be written by numpy.save")
        }
        let major = bytes[6], minor = bytes[7]
        let lengthBytes: Int
        switch major {
        case 1: lengthBytes = 2
        case 2, 3: lengthBytes = 4
        default:
            throw fail(.unsupportedVersion, "format version \(major).\(minor)", "versions 1.0, 2.0 and 3.0 are read")
        }
        guard bytes.count >= 8 + lengthBytes else { throw fail(.truncated, "header length cut off", "the file is truncated") }
        var headerLength = 0
        for index in 0..<lengthBytes { headerLength |= Int(bytes[8 + index]) << (8 * index) }
        let headerStart = 8 + lengthBytes
        guard bytes.count >= headerStart + headerLength else {
            throw fail(.truncated, "header of \(headerLength) bytes but only \(bytes.count - headerStart) present",
                       "the file is truncated")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[headerStart..<(headerStart + headerLength)])
        let text = major == 3 ? String(decoding: headerBytes, as: UTF8.self) : String(decoding: headerBytes, as: Unicode.ASCII.self)
        var parser = PythonLiteralParser(text: text)
        guard case .dict(let entries)? = try? parser.parseValue() else {
            throw fail(.notNpy, "header is not a Python dict literal: \(text.prefix(120))", "the member must be written by numpy.save")
        }
        let dict = Dictionary(entries, uniquingKeysWith: { first, _ in first })
        guard case .string(let descr)? = dict["descr"] else {
            if case .list? = dict["descr"] {
                throw fail(.unsupportedDType, "structured dtype \(text.prefix(120))", "save a plain float16 or float32 array")
            }
            throw fail(.notNpy, "header has no 'descr' string: \(text.prefix(120))", "the member must be written by numpy.save")
        }
        guard case .bool(let fortranOrder)? = dict["fortran_order"] else {
            throw fail(.notNpy, "header has no 'fortran_order' flag: \(text.prefix(120))", "the member must be written by numpy.save")
        }
        guard case .tuple(let dims)? = dict["shape"] else {
            throw fail(.notNpy, "header has no 'shape' tuple: \(text.prefix(120))", "the member must be written by numpy.save")
        }
        var shape: [Int] = []
        for dim in dims {
            guard case .int(let size) = dim, size >= 0 else {
                throw fail(.notNpy, "shape \(text.prefix(120)) holds a non-integer", "the member must be written by numpy.save")
            }
            shape.append(size)
        }
        return Header(version: (major, minor), descr: descr, fortranOrder: fortranOrder, shape: shape,
                      dataOffset: headerStart + headerLength)
    }

    /// Decodes a 2-D float16 / float32 C-order array, the layout of a feature member.
    /// - Throws: ``FeatureError`` for Fortran order, object or other unsupported dtypes, big-endian data,
    ///   a rank other than 2, a second dimension other than `expectedDimension`, truncated or surplus data,
    ///   and (under ``NonFinitePolicy/reject``) NaN or infinite values.
    public static func decodeMatrix(
        _ bytes: UnsafeRawBufferPointer, source: String, member: String? = nil,
        nonFinite: NonFinitePolicy = .reject, expectedDimension: Int? = nil
    ) throws -> FrameFeatures {
        func fail(_ kind: FeatureError.Kind, _ problem: String, _ hint: String) -> FeatureError {
            FeatureError(kind: kind, source: source, member: member, problem: problem, hint: hint)
        }
        let header = try parseHeader(bytes, source: source, member: member)
        let descr = header.descr
        if descr.contains("O") {
            throw fail(.objectDType, "dtype '\(descr)' is a Python object array (a pickle)",
                       "pickles are never loaded; save the features with np.save(arr.astype(np.float16))")
        }
        let dtype: NpyDType
        switch descr {
        case "<f2", "=f2": dtype = .float16
        case "<f4", "=f4": dtype = .float32
        case ">f2", ">f4":
            throw fail(.bigEndian, "dtype '\(descr)' is big-endian", "convert with arr.astype('<f4') or '<f2' before saving")
        default:
            throw fail(.unsupportedDType, "dtype '\(descr)'", "features must be float16 ('<f2') or float32 ('<f4')")
        }
        if header.fortranOrder {
            throw fail(.fortranOrder, "array is in Fortran (column-major) order",
                       "save a C-ordered array: np.save(f, np.ascontiguousarray(arr))")
        }
        guard header.shape.count == 2 else {
            throw fail(.wrongRank, "shape \(header.shape) has rank \(header.shape.count), expected 2 [frames, dimension]",
                       "save one row per frame")
        }
        let frameCount = header.shape[0], dimension = header.shape[1]
        if let expectedDimension, dimension != expectedDimension {
            throw fail(.wrongDimension, "shape \(header.shape) has dimension \(dimension), expected \(expectedDimension)",
                       "all members of a feature zip must share one feature size")
        }
        let (count, overflow) = frameCount.multipliedReportingOverflow(by: dimension)
        guard !overflow, count < Int.max / 4 else { throw fail(.notNpy, "shape \(header.shape) is too large", "") }
        let expectedBytes = count * dtype.byteCount
        let present = bytes.count - header.dataOffset
        guard present >= expectedBytes else {
            throw fail(.truncated, "shape \(header.shape) \(descr) needs \(expectedBytes) data bytes, found \(present)",
                       "the member is truncated; rewrite it")
        }
        guard present == expectedBytes else {
            throw fail(.trailingBytes, "\(present - expectedBytes) bytes follow the \(expectedBytes) data bytes of shape \(header.shape)",
                       "the header does not describe the data; rewrite the member")
        }
        let data = UnsafeRawBufferPointer(rebasing: bytes[header.dataOffset...])
        var values = [Float](repeating: 0, count: count)
        var badCount = 0
        var firstBad = -1
        values.withUnsafeMutableBufferPointer { output in
            switch dtype {
            case .float16:
                HalfFloat.decodingTable.withUnsafeBufferPointer { table in
                    for index in 0..<count {
                        let bits = UInt16(data[2 * index]) | UInt16(data[2 * index + 1]) << 8
                        if bits & 0x7C00 == 0x7C00 {
                            if firstBad < 0 { firstBad = index }
                            badCount += 1
                            output[index] = 0
                        } else {
                            output[index] = table[Int(bits)]
                        }
                    }
                }
            case .float32:
                for index in 0..<count {
                    let bits = data.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self).littleEndian
                    if bits & 0x7F80_0000 == 0x7F80_0000 {
                        if firstBad < 0 { firstBad = index }
                        badCount += 1
                        output[index] = 0
                    } else {
                        output[index] = Float(bitPattern: bits)
                    }
                }
            }
        }
        if badCount > 0 && nonFinite == .reject {
            throw fail(.nonFinite,
                       "\(badCount) NaN or infinite values, the first at frame \(firstBad / dimension), column \(firstBad % dimension)",
                       "fix the extractor, or read with the non-finite policy 'replace with zero'")
        }
        return FrameFeatures(values: values, frameCount: frameCount, dimension: dimension, replacedNonFinite: badCount)
    }

    /// Decodes a feature matrix from `Data` (a whole `.npy` file).
    public static func decodeMatrix(
        _ data: Data, source: String, member: String? = nil, nonFinite: NonFinitePolicy = .reject,
        expectedDimension: Int? = nil
    ) throws -> FrameFeatures {
        try data.withUnsafeBytes {
            try decodeMatrix($0, source: source, member: member, nonFinite: nonFinite, expectedDimension: expectedDimension)
        }
    }
}

/// The small subset of Python literal syntax that `.npy` headers use: dicts, strings, True/False, ints,
/// tuples and lists.
private struct PythonLiteralParser {
    indirect enum Value: Equatable {
        case string(String), bool(Bool), int(Int), tuple([Value]), list([Value]), none
        case dict([(String, Value)])

        static func == (lhs: Value, rhs: Value) -> Bool {
            switch (lhs, rhs) {
            case (.string(let a), .string(let b)): a == b
            case (.bool(let a), .bool(let b)): a == b
            case (.int(let a), .int(let b)): a == b
            case (.tuple(let a), .tuple(let b)), (.list(let a), .list(let b)): a == b
            case (.none, .none): true
            case (.dict(let a), .dict(let b)): a.map(\.0) == b.map(\.0) && a.map(\.1) == b.map(\.1)
            default: false
            }
        }
    }

    struct Failure: Error {}

    private let scalars: [Unicode.Scalar]
    private var position = 0

    init(text: String) { scalars = Array(text.unicodeScalars) }

    private mutating func skipSpace() {
        while position < scalars.count, scalars[position].properties.isWhitespace { position += 1 }
    }

    private mutating func peek() -> Unicode.Scalar? {
        skipSpace()
        return position < scalars.count ? scalars[position] : nil
    }

    private mutating func expect(_ scalar: Unicode.Scalar) throws {
        guard peek() == scalar else { throw Failure() }
        position += 1
    }

    mutating func parseValue() throws -> Value {
        guard let first = peek() else { throw Failure() }
        switch first {
        case "{":
            position += 1
            var entries: [(String, Value)] = []
            while peek() != "}" {
                guard case .string(let key) = try parseValue() else { throw Failure() }
                try expect(":")
                entries.append((key, try parseValue()))
                if peek() == "," { position += 1 } else { break }
            }
            try expect("}")
            return .dict(entries)
        case "(", "[":
            let close: Unicode.Scalar = first == "(" ? ")" : "]"
            position += 1
            var items: [Value] = []
            while peek() != close {
                items.append(try parseValue())
                if peek() == "," { position += 1 } else { break }
            }
            try expect(close)
            return first == "(" ? .tuple(items) : .list(items)
        case "'", "\"":
            position += 1
            var text = ""
            while position < scalars.count, scalars[position] != first {
                if scalars[position] == "\\", position + 1 < scalars.count { position += 1 }
                text.unicodeScalars.append(scalars[position])
                position += 1
            }
            guard position < scalars.count else { throw Failure() }
            position += 1
            return .string(text)
        default:
            var word = ""
            while position < scalars.count, scalars[position].properties.isAlphabetic
                || ("0"..."9").contains(scalars[position]) || scalars[position] == "-" || scalars[position] == "_"
            {
                word.unicodeScalars.append(scalars[position])
                position += 1
            }
            switch word {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            default:
                // Python 2 era headers may write longs as 3L.
                let digits = word.hasSuffix("L") ? String(word.dropLast()) : word
                guard let value = Int(digits) else { throw Failure() }
                return .int(value)
            }
        }
    }
}
