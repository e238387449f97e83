import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `multipart/form-data` body (RFC 7578 over RFC 2046) split into its parts, strictly: the boundary
/// must be declared, every part must have a `Content-Disposition: form-data; name=…` header and end at a
/// delimiter, and the body must end with the close delimiter (`--boundary--`), so a truncated upload is
/// refused rather than read as a shorter one. A preamble before the first delimiter and an epilogue
/// after the last are ignored, as RFC 2046 asks.
struct MultipartForm {
    struct Part {
        /// The `name` of the part's Content-Disposition.
        var name: String
        /// The `filename` of the part's Content-Disposition, for file parts.
        var filename: String?
        var contentType: String?
        var body: Data

        /// `part 3 ("frames", file "a.jpg")`, to tell a client which part an error is about.
        func label(_ index: Int) -> String {
            "part \(index + 1) (\"\(name)\"" + (filename.map { ", file \"\($0)\"" } ?? "") + ")"
        }
    }

    var parts: [Part]

    /// Whether a Content-Type header announces a multipart form.
    static func isMultipart(contentType: String?) -> Bool {
        contentType.map { mediaType(of: $0) == "multipart/form-data" } ?? false
    }

    /// The `boundary` parameter of a `multipart/form-data` Content-Type.
    static func boundary(contentType: String) throws(ServeError) -> String {
        let parameters = contentType.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }
        guard let parameter = parameters.first(where: { $0.lowercased().hasPrefix("boundary=") }) else {
            throw ServeError(.malformedMultipart, field: "content-type",
                             "multipart/form-data without a boundary parameter (expected e.g. `multipart/form-data; boundary=XYZ`)")
        }
        var boundary = String(parameter.dropFirst("boundary=".count))
        if boundary.count >= 2, boundary.hasPrefix("\""), boundary.hasSuffix("\"") { boundary = String(boundary.dropFirst().dropLast()) }
        guard (1...70).contains(boundary.utf8.count), boundary.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F || $0 == 0x20 }),
              !boundary.hasSuffix(" ")
        else {
            throw ServeError(.malformedMultipart, field: "content-type",
                             "the boundary must be 1 to 70 printable ASCII characters (RFC 2046), not '\(boundary)'")
        }
        return boundary
    }

    /// Splits `body` at `boundary`; refuses more than `maxParts` parts.
    static func parse(_ body: Data, boundary: String, maxParts: Int) throws(ServeError) -> MultipartForm {
        let bytes = [UInt8](body)
        let delimiter = Array("--\(boundary)".utf8)
        let partEnd = Array("\r\n--\(boundary)".utf8)
        guard var position = find(delimiter, in: bytes, from: 0),
              position == 0 || (position >= 2 && bytes[position - 2..<position].elementsEqual([0x0D, 0x0A]))
        else {
            throw ServeError(.malformedMultipart, "the body has no delimiter line '--\(boundary)' (is the boundary the one in Content-Type?)")
        }
        position += delimiter.count
        var parts: [Part] = []
        while true {
            let index = parts.count
            if bytes[position..<min(position + 2, bytes.count)].elementsEqual([0x2D, 0x2D]) { break }  // "--": the close delimiter
            while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x09 { position += 1 }
            guard bytes[position..<min(position + 2, bytes.count)].elementsEqual([0x0D, 0x0A]) else {
                throw ServeError(.malformedMultipart, field: "parts[\(index)]",
                                 "part \(index + 1): the body ends, or a delimiter line goes on, where CRLF was expected (a truncated upload?)")
            }
            position += 2
            guard index < maxParts else {
                throw ServeError(.malformedMultipart, field: "parts[\(index)]", "more than \(maxParts) parts")
            }
            guard let headersEnd = find([0x0D, 0x0A, 0x0D, 0x0A], in: bytes, from: position - 2) else {
                throw ServeError(.malformedMultipart, field: "parts[\(index)]", "part \(index + 1): its headers never end (a truncated upload?)")
            }
            var part = try headers(bytes[position..<max(position, headersEnd)], index: index)
            let bodyStart = headersEnd + 4
            guard let bodyEnd = find(partEnd, in: bytes, from: headersEnd + 2) else {
                throw ServeError(.malformedMultipart, field: "parts[\(index)]",
                                 "\(part.label(index)): no delimiter after it; the body was cut short (a truncated upload?)")
            }
            part.body = Data(bytes[min(bodyStart, bodyEnd)..<bodyEnd])
            parts.append(part)
            position = bodyEnd + partEnd.count
        }
        return MultipartForm(parts: parts)
    }

    /// A part's header lines (after the delimiter line, up to the blank line).
    private static func headers(_ lines: ArraySlice<UInt8>, index: Int) throws(ServeError) -> Part {
        guard let text = String(bytes: lines, encoding: .utf8) else {
            throw ServeError(.malformedMultipart, field: "parts[\(index)]", "part \(index + 1): its headers are not UTF-8")
        }
        var disposition: String?
        var contentType: String?
        for line in text.components(separatedBy: "\r\n") where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else {
                throw ServeError(.malformedMultipart, field: "parts[\(index)]", "part \(index + 1): header line without a colon: '\(line.prefix(80))'")
            }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch line[..<colon].lowercased() {
            case "content-disposition": disposition = value
            case "content-type": contentType = value
            default: continue
            }
        }
        guard let disposition, mediaType(of: disposition) == "form-data" else {
            throw ServeError(.malformedMultipart, field: "parts[\(index)]",
                             "part \(index + 1): no `Content-Disposition: form-data; name=\"…\"` header")
        }
        guard let name = parameter("name", of: disposition) else {
            throw ServeError(.malformedMultipart, field: "parts[\(index)]", "part \(index + 1): its Content-Disposition has no name")
        }
        return Part(name: name, filename: parameter("filename", of: disposition), contentType: contentType, body: Data())
    }

    /// `multipart/form-data` of `multipart/form-data; boundary=x`, lowercased.
    private static func mediaType(of header: String) -> String {
        String(header.prefix { $0 != ";" }).trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// The value of `key=value` or `key="value"` in a header's parameters (quotes may hold `;`).
    private static func parameter(_ key: String, of header: String) -> String? {
        var rest = Substring(header)
        guard let first = rest.firstIndex(of: ";") else { return nil }
        rest = rest[rest.index(after: first)...]
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "\t" || $0 == ";" }
            let name = rest.prefix { $0 != "=" && $0 != ";" }
            rest = rest.dropFirst(name.count)
            var value = ""
            if rest.first == "=" {
                rest = rest.dropFirst()
                if rest.first == "\"" {
                    rest = rest.dropFirst()
                    while let character = rest.first, character != "\"" {
                        if character == "\\", rest.count > 1 { rest = rest.dropFirst() }
                        value.append(rest.first!)
                        rest = rest.dropFirst()
                    }
                    rest = rest.dropFirst()
                } else {
                    value = String(rest.prefix { $0 != ";" }).trimmingCharacters(in: .whitespaces)
                    rest = rest.dropFirst(value.count)
                }
            }
            rest = rest.drop { $0 != ";" }
            if name.trimmingCharacters(in: .whitespaces).lowercased() == key { return value }
        }
        return nil
    }

    /// The first index of `needle` in `haystack` at or after `start` (memchr to each candidate first byte).
    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard start >= 0, let first = needle.first, haystack.count - start >= needle.count else { return nil }
        return haystack.withUnsafeBufferPointer { (hay: UnsafeBufferPointer<UInt8>) -> Int? in
            let base = UnsafeRawPointer(hay.baseAddress!)
            let last = hay.count - needle.count
            var index = start
            while index <= last {
                guard let hit = memchr(base + index, Int32(first), last - index + 1) else { return nil }
                index = base.distance(to: UnsafeRawPointer(hit))
                if hay[index..<(index + needle.count)].elementsEqual(needle) { return index }
                index += 1
            }
            return nil
        }
    }
}
