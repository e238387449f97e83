import Foundation
import VidTagData

/// Turns one video of a request into a model sample, checking it against the limits and the model:
/// text sizes, frame counts, base64, JPEG headers (pixel count) before any decoding, feature widths.
/// Runs on the preparation thread pool: base64, JPEG decoding and tokenizing never block the event
/// loops nor the model's thread.
struct VideoPreparation: Sendable {
    let model: ServedModel
    let limits: ServeLimits

    /// The sample of `video`, the `index`-th of its request; errors name its fields as `fields` says.
    func sample(of video: VideoRequest, index: Int, fields: VideoFields) throws(ServeError) -> Sample {
        let prefix = fields.text
        let id = video.id ?? String(index)
        for (name, text) in [("title", video.title ?? ""), ("asr", video.asr ?? "")] where text.utf8.count > limits.maxTextBytes {
            throw ServeError(.textTooLong, field: prefix + name,
                             "\(text.utf8.count) bytes of UTF-8; at most \(limits.maxTextBytes) are taken")
        }
        let ocr = (video.ocr ?? []).map { OCRSegment(time: $0.time, text: $0.text ?? "") }
        let ocrBytes = ocr.reduce(0) { $0 + $1.text.utf8.count }
        if ocrBytes > limits.maxTextBytes {
            throw ServeError(.textTooLong, field: prefix + "ocr",
                             "\(ocrBytes) bytes of UTF-8 in all; at most \(limits.maxTextBytes) are taken")
        }
        let record = VideoAnnotation(id: id, title: video.title ?? "", asr: video.asr ?? "", ocr: ocr)
        let frames = try frames(of: video, fields: fields)
        let sample: Sample
        do {
            sample = try model.samples.sample(record, frames: frames, position: index)
        } catch {
            throw ServeError(.internalError, field: fields.video,
                             "the video could not be prepared: \(error)")
        }
        if let issue = sample.report.frames.issues.first {
            throw ServeError(.corruptImage, field: fields.frames + (issue.member ?? "frames"),
                             "not a complete, decodable JPEG: \(issue.reason)")
        }
        return sample
    }

    private func frames(of video: VideoRequest, fields: VideoFields) throws(ServeError) -> RecordFrames {
        let images: Int? = video.frameFiles?.count ?? video.frames?.count
        switch (images, video.frameFeatures) {
        case (nil, nil):
            return .absent
        case (.some, .some):
            throw ServeError(.invalidField, field: fields.text + "frame_features",
                             "give frames (JPEGs) or frame_features, not both")
        case (let count?, nil):
            guard count <= limits.maxFrames else {
                throw ServeError(.tooManyFrames, field: fields.frames + "frames", "\(count) frames; at most \(limits.maxFrames)")
            }
            let jpegs: [Data]
            if let files = video.frameFiles {
                jpegs = try files.enumerated().map { (number, bytes) throws(ServeError) in
                    try checkedJPEG(bytes, field: fields.frames + "frames[\(number)]")
                }
            } else {
                jpegs = try (video.frames ?? []).enumerated().map { (number, text) throws(ServeError) in
                    try jpeg(base64: text, field: fields.frames + "frames[\(number)]")
                }
            }
            guard model.takesJPEGFrames else {
                throw ServeError(.wrongFrameKind, field: fields.frames + "frames",
                                 "this model was trained on frame features, not JPEG images: send frame_features "
                                     + "(\(model.featureSize ?? 0) numbers per frame), or no frames")
            }
            return .jpegs(jpegs)
        case (nil, let rows?):
            guard rows.count <= limits.maxFrames else {
                throw ServeError(.tooManyFrames, field: fields.text + "frame_features",
                                 "\(rows.count) frames; at most \(limits.maxFrames)")
            }
            guard let width = model.featureSize else {
                throw ServeError(.wrongFrameKind, field: fields.text + "frame_features",
                                 "this model was trained on raw frames: send frames as base64 JPEGs, or no frames")
            }
            for (number, row) in rows.enumerated() where row.count != width {
                throw ServeError(.invalidField, field: fields.text + "frame_features[\(number)]",
                                 "\(row.count) numbers; this model takes \(width) per frame")
            }
            if rows.isEmpty { return .absent }
            return .features(FrameFeatures(values: rows.flatMap { $0 }, frameCount: rows.count, dimension: width))
        }
    }

    /// Base64 to JPEG bytes, checked as ``checkedJPEG(_:field:)`` does.
    private func jpeg(base64 text: String, field: String) throws(ServeError) -> Data {
        let payload = text.hasPrefix("data:") ? String(text.drop { $0 != "," }.dropFirst()) : text
        guard let bytes = Data(base64Encoded: payload, options: .ignoreUnknownCharacters), !bytes.isEmpty else {
            throw ServeError(.invalidField, field: field, "not base64 (a JPEG file encoded as base64 is expected)")
        }
        return try checkedJPEG(bytes, field: field)
    }

    /// `bytes`, once their header says they are a JPEG within the pixel limit (nothing is decoded yet).
    private func checkedJPEG(_ bytes: Data, field: String) throws(ServeError) -> Data {
        let size: (width: Int, height: Int)
        do {
            size = try JPEG.dimensions(of: bytes)
        } catch {
            throw ServeError(.corruptImage, field: field, "not a JPEG image: \(error)")
        }
        guard size.width * size.height <= limits.maxPixels else {
            throw ServeError(.imageTooLarge, field: field,
                             "\(size.width)×\(size.height) pixels; at most \(limits.maxPixels) pixels per frame")
        }
        return bytes
    }
}

/// How errors name a video's fields: `title`, `frames[0]` for a single-video JSON body; `videos[2].title`
/// in a list; `video.title` (the JSON part) and `frames[0]` (the first `frames` file part) in a multipart form.
struct VideoFields: Sendable {
    /// Before the text fields and frame_features.
    var text: String
    /// Before `frames`.
    var frames: String
    /// The whole video, when an error is about no one field.
    var video: String?

    static let single = VideoFields(text: "", frames: "", video: nil)
    static let multipart = VideoFields(text: "video.", frames: "", video: "video")
    static func listed(_ index: Int) -> VideoFields {
        VideoFields(text: "videos[\(index)].", frames: "videos[\(index)].", video: "videos[\(index)]")
    }
}
