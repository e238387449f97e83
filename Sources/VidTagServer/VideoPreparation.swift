import Foundation
import VidTagData

/// Turns one video of a request into a model sample, checking it against the limits and the model:
/// text sizes, frame counts, base64, JPEG headers (pixel count) before any decoding, feature widths.
/// Runs on the preparation thread pool: base64, JPEG decoding and tokenizing never block the event
/// loops nor the model's thread.
struct VideoPreparation: Sendable {
    let model: ServedModel
    let limits: ServeLimits

    /// The sample of `video`, the `index`-th of its request; errors name `videos[index].…` (or the
    /// top-level field for a single-video body).
    func sample(of video: VideoRequest, index: Int, single: Bool) throws(ServeError) -> Sample {
        let prefix = single ? "" : "videos[\(index)]."
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
        let frames = try frames(of: video, prefix: prefix)
        let sample: Sample
        do {
            sample = try model.samples.sample(record, frames: frames, position: index)
        } catch {
            throw ServeError(.internalError, field: prefix.isEmpty ? nil : String(prefix.dropLast()),
                             "the video could not be prepared: \(error)")
        }
        if let issue = sample.report.frames.issues.first {
            throw ServeError(.corruptImage, field: prefix + (issue.member ?? "frames"),
                             "not a complete, decodable JPEG: \(issue.reason)")
        }
        return sample
    }

    private func frames(of video: VideoRequest, prefix: String) throws(ServeError) -> RecordFrames {
        switch (video.frames, video.frameFeatures) {
        case (nil, nil):
            return .absent
        case (.some, .some):
            throw ServeError(.invalidField, field: prefix + "frame_features",
                             "give frames (base64 JPEGs) or frame_features, not both")
        case (let images?, nil):
            guard images.count <= limits.maxFrames else {
                throw ServeError(.tooManyFrames, field: prefix + "frames", "\(images.count) frames; at most \(limits.maxFrames)")
            }
            let jpegs = try images.enumerated().map { (number, text) throws(ServeError) in
                try jpeg(text, field: prefix + "frames[\(number)]")
            }
            guard model.takesJPEGFrames else {
                throw ServeError(.wrongFrameKind, field: prefix + "frames",
                                 "this model was trained on frame features, not JPEG images: send frame_features "
                                     + "(\(model.featureSize ?? 0) numbers per frame), or no frames")
            }
            return .jpegs(jpegs)
        case (nil, let rows?):
            guard rows.count <= limits.maxFrames else {
                throw ServeError(.tooManyFrames, field: prefix + "frame_features",
                                 "\(rows.count) frames; at most \(limits.maxFrames)")
            }
            guard let width = model.featureSize else {
                throw ServeError(.wrongFrameKind, field: prefix + "frame_features",
                                 "this model was trained on raw frames: send frames as base64 JPEGs, or no frames")
            }
            for (number, row) in rows.enumerated() where row.count != width {
                throw ServeError(.invalidField, field: prefix + "frame_features[\(number)]",
                                 "\(row.count) numbers; this model takes \(width) per frame")
            }
            if rows.isEmpty { return .absent }
            return .features(FrameFeatures(values: rows.flatMap { $0 }, frameCount: rows.count, dimension: width))
        }
    }

    /// Base64 to JPEG bytes, with the header read to refuse images that are not JPEGs or too large.
    private func jpeg(_ text: String, field: String) throws(ServeError) -> Data {
        let payload = text.hasPrefix("data:") ? String(text.drop { $0 != "," }.dropFirst()) : text
        guard let bytes = Data(base64Encoded: payload, options: .ignoreUnknownCharacters), !bytes.isEmpty else {
            throw ServeError(.invalidField, field: field, "not base64 (a JPEG file encoded as base64 is expected)")
        }
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
