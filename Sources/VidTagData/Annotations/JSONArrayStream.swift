import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a file holding one top-level JSON array into its elements without reading the whole file:
/// a fixed read buffer is scanned byte by byte (tracking strings, escapes and nesting), and each element's
/// bytes are handed out alone. Elements are not parsed here; a broken element is the caller's to report,
/// while a broken array (no `[`, a missing `,`, a file that ends early) stops the stream.
struct JSONArrayStream: ~Copyable {
    /// One top-level element: its bytes, 0-based position in the array and the 1-based line it starts on.
    struct Element {
        var bytes: [UInt8]
        var index: Int
        var line: Int
    }

    private enum Position { case beforeArray, beforeElement, afterElement, finished }

    let path: String
    private let descriptor: Int32
    private let buffer: UnsafeMutableRawBufferPointer
    private var bufferFill = 0
    private var bufferPosition = 0
    private var endOfFile = false
    private var position = Position.beforeArray
    private var line = 1
    private var elementIndex = 0

    init(path: String, bufferSize: Int = 1 << 20) throws {
        self.path = path
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw AnnotationFileError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        self.descriptor = descriptor
        self.buffer = .allocate(byteCount: max(bufferSize, 16), alignment: 16)
    }

    deinit {
        close(descriptor)
        buffer.deallocate()
    }

    /// The next byte, or nil at the end of the file.
    private mutating func nextByte() throws -> UInt8? {
        if bufferPosition == bufferFill {
            if endOfFile { return nil }
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            guard count >= 0 else {
                throw AnnotationFileError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 {
                endOfFile = true
                return nil
            }
            bufferFill = count
            bufferPosition = 0
        }
        let byte = buffer[bufferPosition]
        bufferPosition += 1
        if byte == UInt8(ascii: "\n") { line += 1 }
        return byte
    }

    private mutating func nextNonWhitespace() throws -> UInt8? {
        while let byte = try nextByte() {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D: continue
            default: return byte
            }
        }
        return nil
    }

    private func structureError(_ problem: String) -> AnnotationFileError {
        .malformedArray(path: path, recordIndex: elementIndex, line: line, problem: problem)
    }

    /// The next element of the array, or nil after its closing `]`.
    mutating func next() throws -> Element? {
        while true {
            switch position {
            case .finished:
                return nil
            case .beforeArray:
                var first = try nextNonWhitespace()
                if first == 0xEF {  // UTF-8 byte order mark
                    _ = try nextByte(); _ = try nextByte()
                    first = try nextNonWhitespace()
                }
                guard let first else { throw structureError("the file is empty; expected a JSON array '[...]'") }
                guard first == UInt8(ascii: "[") else {
                    throw structureError(
                        "expected the file to start with '[' (one JSON array of records), found '\(Self.show(first))'")
                }
                position = .beforeElement
                if let element = try scanElement(allowClose: true) { return element }
            case .beforeElement:
                if let element = try scanElement(allowClose: false) { return element }
            case .afterElement:
                guard let byte = try nextNonWhitespace() else {
                    throw structureError("the file ends inside the array; expected ',' or ']' (truncated file?)")
                }
                if byte == UInt8(ascii: "]") {
                    if let extra = try nextNonWhitespace() {
                        throw structureError("unexpected '\(Self.show(extra))' after the closing ']' of the array")
                    }
                    position = .finished
                    return nil
                }
                guard byte == UInt8(ascii: ",") else {
                    throw structureError("expected ',' or ']' after record \(elementIndex - 1), found '\(Self.show(byte))'")
                }
                position = .beforeElement
            }
        }
    }

    /// Scans one element starting at the next non-whitespace byte; nil when the array closes instead.
    private mutating func scanElement(allowClose: Bool) throws -> Element? {
        guard let first = try nextNonWhitespace() else {
            throw structureError("the file ends inside the array; expected a record (truncated file?)")
        }
        if first == UInt8(ascii: "]") {
            guard allowClose else { throw structureError("a ',' is followed by ']' (trailing comma)") }
            if let extra = try nextNonWhitespace() {
                throw structureError("unexpected '\(Self.show(extra))' after the closing ']' of the array")
            }
            position = .finished
            return nil
        }
        let startLine = line
        var bytes: [UInt8] = [first]
        bytes.reserveCapacity(1024)
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") || first == UInt8(ascii: "\"") {
            var depth = first == UInt8(ascii: "\"") ? 0 : 1
            var inString = first == UInt8(ascii: "\"")
            var escaped = false
            while depth > 0 || inString {
                guard let byte = try nextByte() else {
                    throw structureError("the file ends inside record \(elementIndex) begun on line \(startLine) (truncated file?)")
                }
                bytes.append(byte)
                if inString {
                    if escaped { escaped = false }
                    else if byte == UInt8(ascii: "\\") { escaped = true }
                    else if byte == UInt8(ascii: "\"") { inString = false }
                } else {
                    switch byte {
                    case UInt8(ascii: "\""): inString = true
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
                    default: break
                    }
                }
            }
            position = .afterElement
        } else {
            // A bare scalar (number, true, null, ...): it ends at ',', ']' or whitespace.
            scalar: while true {
                if bufferPosition == bufferFill, try !refill() { break scalar }
                let byte = buffer[bufferPosition]
                switch byte {
                case UInt8(ascii: ","), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D: break scalar
                default:
                    bytes.append(byte)
                    bufferPosition += 1
                }
            }
            position = .afterElement
        }
        defer { elementIndex += 1 }
        return Element(bytes: bytes, index: elementIndex, line: startLine)
    }

    private mutating func refill() throws -> Bool {
        if endOfFile { return false }
        let count = read(descriptor, buffer.baseAddress, buffer.count)
        guard count >= 0 else { throw AnnotationFileError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        if count == 0 { endOfFile = true; return false }
        bufferFill = count
        bufferPosition = 0
        return true
    }

    private static func show(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : String(format: "\\x%02X", byte)
    }
}
