import Foundation
import VidTagData

/// The body of `POST /v1/classify`: one video as the top-level object, or `{"videos": [...]}`; either
/// may carry `top_k`. A video has the annotation fields (`id`, `title`, `asr`, `ocr` as
/// `[{"time": int, "text": string}]`) and at most one of `frames` (base64 JPEGs in time order) and
/// `frame_features` (`[[number]]`, one row per frame). Unknown keys are refused, so a misspelt field
/// never passes silently. A `multipart/form-data` body carries one video (``decodeMultipart(_:contentType:limits:)``).
struct ClassifyRequest: Decodable {
    var videos: [VideoRequest]
    /// How the body held its videos (the answer is a list either way).
    var shape: Shape
    var topK: Int?

    enum Shape {
        /// One video as the body.
        case single
        /// `{"videos": [...]}`.
        case list
        /// A `video` JSON part and `frames` file parts.
        case multipart
    }

    init(videos: [VideoRequest], shape: Shape, topK: Int?) {
        self.videos = videos
        self.shape = shape
        self.topK = topK
    }

    /// How errors name the fields of the `index`-th video.
    func fields(_ index: Int) -> VideoFields {
        switch shape {
        case .single: .single
        case .list: .listed(index)
        case .multipart: .multipart
        }
    }

    private enum Keys: String, CodingKey, CaseIterable { case videos, topK = "top_k" }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        if container.contains(AnyKey(Keys.videos.rawValue)) {
            try rejectUnknownKeys(container, allowed: Keys.allCases.map(\.rawValue))
            let keyed = try decoder.container(keyedBy: Keys.self)
            videos = try keyed.decode([VideoRequest].self, forKey: .videos)
            topK = try keyed.decodeIfPresent(Int.self, forKey: .topK)
            shape = .list
        } else {
            try rejectUnknownKeys(container, allowed: VideoRequest.Keys.allCases.map(\.rawValue) + [Keys.topK.rawValue])
            videos = [try VideoRequest(from: decoder)]
            topK = try decoder.container(keyedBy: Keys.self).decodeIfPresent(Int.self, forKey: .topK)
            shape = .single
        }
    }
}

/// One video of a request, as sent.
struct VideoRequest: Decodable {
    var id: String?
    var title: String?
    var asr: String?
    var ocr: [OCRItem]?
    var frames: [String]?
    var frameFeatures: [[Float]]?
    /// JPEG files of a multipart request, in part order (never from JSON, where `frames` are base64).
    var frameFiles: [Data]?

    enum Keys: String, CodingKey, CaseIterable {
        case id, title, asr, ocr, frames, frameFeatures = "frame_features"
    }

    struct OCRItem: Decodable {
        var time: Int
        var text: String?
        enum Keys: String, CodingKey, CaseIterable { case time, text }

        init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(try decoder.container(keyedBy: AnyKey.self), allowed: Keys.allCases.map(\.rawValue))
            let container = try decoder.container(keyedBy: Keys.self)
            time = try container.decode(Int.self, forKey: .time)
            text = try container.decodeIfPresent(String.self, forKey: .text)
        }
    }

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(try decoder.container(keyedBy: AnyKey.self),
                              allowed: Keys.allCases.map(\.rawValue) + (decoder.codingPath.isEmpty ? ["top_k"] : []))
        let container = try decoder.container(keyedBy: Keys.self)
        id = try container.decodeIfPresent(String.self, forKey: .id)
        title = try container.decodeIfPresent(String.self, forKey: .title)
        asr = try container.decodeIfPresent(String.self, forKey: .asr)
        ocr = try container.decodeIfPresent([OCRItem].self, forKey: .ocr)
        frames = try container.decodeIfPresent([String].self, forKey: .frames)
        frameFeatures = try container.decodeIfPresent([[Float]].self, forKey: .frameFeatures)
    }
}

/// Any key of an object, to list the keys a client sent.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Thrown while decoding when an object has a key the API does not define.
struct UnknownKey: Error {
    var path: [any CodingKey]
    var key: String
    var allowed: [String]
}

private func rejectUnknownKeys(_ container: KeyedDecodingContainer<AnyKey>, allowed: [String]) throws {
    if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !allowed.contains($0) }) {
        throw UnknownKey(path: container.codingPath, key: unknown, allowed: allowed)
    }
}

extension ClassifyRequest {
    /// Decodes `body`, turning the decoder's errors into ``ServeError``s that name the field.
    static func decode(_ body: Data) throws(ServeError) -> ClassifyRequest {
        do {
            return try JSONDecoder().decode(ClassifyRequest.self, from: body)
        } catch let error as UnknownKey {
            throw ServeError(.invalidField, field: fieldPath(error.path + [AnyKey(error.key)]),
                             "unknown field '\(error.key)'; expected one of \(error.allowed.joined(separator: ", "))")
        } catch let error as DecodingError {
            throw describe(error)
        } catch {
            throw ServeError(.malformedJSON, "the body is not valid JSON: \(error)")
        }
    }

    /// `videos[2].ocr[0].time` from a coding path.
    static func fieldPath(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
        }
        return text
    }

    private static func describe(_ error: DecodingError) -> ServeError {
        switch error {
        case .typeMismatch(let type, let context):
            return ServeError(.invalidField, field: fieldPath(context.codingPath).nonEmpty ?? "(body)",
                              "expected \(typeName(type)) (\(context.debugDescription))")
        case .valueNotFound(let type, let context):
            return ServeError(.invalidField, field: fieldPath(context.codingPath).nonEmpty ?? "(body)",
                              "expected \(typeName(type)), found null")
        case .keyNotFound(let key, let context):
            return ServeError(.invalidField, field: fieldPath(context.codingPath + [key]), "this field is required")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                let reason = (context.underlyingError.map { "\($0)" }) ?? context.debugDescription
                return ServeError(.malformedJSON, "the body is not valid JSON: \(reason)")
            }
            return ServeError(.invalidField, field: fieldPath(context.codingPath), context.debugDescription)
        @unknown default:
            return ServeError(.invalidField, "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Float.Type, is Double.Type: "a number"
        case is [Any].Type: "an array"
        case is [String: Any].Type: "an object"
        default:
            String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }
}

extension ClassifyRequest {
    /// The part names of a multipart request.
    enum PartName: String, CaseIterable {
        /// The video's JSON, as a single-video body (id, title, asr, ocr, frame_features, top_k): once.
        case video
        /// One JPEG file per frame, in time order.
        case frames
    }

    /// A `multipart/form-data` body: one `video` part holding the video's JSON as a single-video body
    /// would (no `frames`: those are the `frames` file parts, one JPEG each, in time order). Errors name
    /// the part: `video.title`, `frames[2]`, `parts[3]` for a part that is not well formed.
    static func decodeMultipart(_ body: Data, contentType: String, limits: ServeLimits) throws(ServeError) -> ClassifyRequest {
        let boundary = try MultipartForm.boundary(contentType: contentType)
        let form = try MultipartForm.parse(body, boundary: boundary, maxParts: limits.maxFrames + 2)
        var videoPart: Data?
        var frames: [Data] = []
        for (index, part) in form.parts.enumerated() {
            switch PartName(rawValue: part.name) {
            case .video:
                guard videoPart == nil else {
                    throw ServeError(.invalidField, field: "video", "\(part.label(index)): a second video part; one video per multipart request")
                }
                if let type = part.contentType, !type.lowercased().hasPrefix("application/json"), !type.lowercased().hasPrefix("text/plain") {
                    throw ServeError(.invalidField, field: "video", "\(part.label(index)) has Content-Type \(type); expected application/json")
                }
                videoPart = part.body
            case .frames:
                frames.append(part.body)
                guard frames.count <= limits.maxFrames else {
                    throw ServeError(.tooManyFrames, field: "frames", "more than \(limits.maxFrames) frames parts; at most \(limits.maxFrames)")
                }
            case nil:
                throw ServeError(.invalidField, field: part.name, "\(part.label(index)): unknown part; expected "
                                     + PartName.allCases.map(\.rawValue).joined(separator: ", "))
            }
        }
        guard let videoPart else {
            throw ServeError(.invalidField, field: "video", "no video part (the video's JSON: title, asr, ocr, …)")
        }
        var request: ClassifyRequest
        do {
            request = try decode(videoPart)
        } catch {
            var inPart = error
            inPart.field = "video" + (error.field.map { "." + $0 } ?? "")
            throw inPart
        }
        guard request.shape == .single, var video = request.videos.first else {
            throw ServeError(.invalidField, field: "video.videos", "one video per multipart request; send a list as JSON")
        }
        if video.frames != nil {
            throw ServeError(.invalidField, field: "video.frames", "in a multipart request frames are file parts named frames")
        }
        video.frameFiles = frames.isEmpty ? nil : frames
        return ClassifyRequest(videos: [video], shape: .multipart, topK: request.topK)
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
