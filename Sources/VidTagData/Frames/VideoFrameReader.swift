import Foundation
import ZIPFoundation

/// Reads videos' frame zips (`zip_frames/{split}/{id[-3:]}/{id}.zip`, one JPEG per member, sorted
/// member names giving time order) into `VideoClip`s. Safe to use from many threads at once: each
/// call opens its own archive and borrows its own JPEG decoder.
///
/// Problems never throw: a missing or unreadable zip, or a video without a readable frame, gives a
/// clip with an all-zero mask; a corrupt or truncated JPEG is skipped. Each is listed in the clip's
/// `issues` (collect them with `FrameReadReport`).
public struct VideoFrameReader: Sendable {
    /// The folder holding the split's `{id[-3:]}/{id}.zip` files.
    public let framesDirectory: URL
    /// Frame slots per clip (`max_frames`).
    public let maxFrames: Int
    /// Resize, crop, augmentation and normalisation settings.
    public let preprocessing: FramePreprocessing
    private let normalizationTable: [Float]
    /// The largest frame member read (64 MiB): a damaged or hostile zip's stated size must not decide
    /// how much memory is set aside.
    public static let maximumFrameBytes = 1 << 26

    /// A reader of the zips under `framesDirectory` (such as `<data root>/zip_frames/labeled`).
    public init(framesDirectory: URL, maxFrames: Int, preprocessing: FramePreprocessing) {
        precondition(maxFrames > 0, "VideoFrameReader: maxFrames must be positive, got \(maxFrames)")
        self.framesDirectory = framesDirectory
        self.maxFrames = maxFrames
        self.preprocessing = preprocessing
        self.normalizationTable = preprocessing.normalization.lookupTable()
    }

    /// A reader of the split `split` (`labeled`, `unlabeled`, `test`) of the data root `dataRoot`.
    public init(dataRoot: URL, split: String, maxFrames: Int, preprocessing: FramePreprocessing) {
        self.init(
            framesDirectory: dataRoot.appendingPathComponent("zip_frames").appendingPathComponent(split),
            maxFrames: maxFrames, preprocessing: preprocessing)
    }

    /// Where the frames of `videoID` are: `{framesDirectory}/{last 3 characters of the id}/{id}.zip`.
    public func zipURL(videoID: String) -> URL {
        framesDirectory.appendingPathComponent(String(videoID.suffix(3))).appendingPathComponent("\(videoID).zip")
    }

    /// The evaluation clip: frames chosen by `FrameSelection.evenStride`, resized and centre-cropped.
    public func evaluationClip(videoID: String) -> VideoClip {
        var unused = NoRandomNumbers()
        return clip(videoID: videoID, training: false, using: &unused)
    }

    /// A training clip: frames chosen by `FrameSelection.randomSubset`, each with its own random
    /// resized crop and flip, all drawn from `generator`.
    public func trainingClip<Generator: RandomNumberGenerator>(videoID: String, using generator: inout Generator) -> VideoClip {
        clip(videoID: videoID, training: true, using: &generator)
    }

    private func clip<Generator: RandomNumberGenerator>(
        videoID: String, training: Bool, using generator: inout Generator
    ) -> VideoClip {
        var clip = VideoClip(
            videoID: videoID, frameCapacity: maxFrames, height: preprocessing.cropHeight, width: preprocessing.cropWidth)
        let url = zipURL(videoID: videoID)
        func issue(_ kind: FrameIssue.Kind, member: String? = nil, _ reason: String) {
            clip.issues.append(FrameIssue(videoID: videoID, kind: kind, path: url.path, member: member, reason: reason))
        }
        guard FileManager.default.fileExists(atPath: url.path) else {
            issue(.missingZip, "no such file; check the data root and split, or run without frames")
            return clip
        }
        let archive: Archive
        let members: [Entry]
        do {
            archive = try Archive(url: url, accessMode: .read)
            members = archive.filter { $0.type == .file }.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        } catch {
            issue(.unreadableZip, "not a readable zip archive (\(error))")
            return clip
        }
        clip.framesInZip = members.count
        fill(&clip, frameNames: members.map(\.path), path: url.path, training: training, using: &generator) { index in
            let member = members[index]
            guard member.uncompressedSize <= UInt64(Self.maximumFrameBytes) else {
                throw OversizedFrame(statedBytes: member.uncompressedSize)
            }
            var bytes = Data(capacity: Int(member.uncompressedSize))
            _ = try archive.extract(member, bufferSize: min(max(Int(member.uncompressedSize), 1), 1 << 20), skipCRC32: true) {
                bytes.append($0)
            }
            return bytes
        }
        return clip
    }

    /// Selects among `frameNames` (in time order), reads each selected frame's JPEG bytes with `bytes`,
    /// decodes, preprocesses and writes it into the next slot of `clip`; a frame that cannot be read or
    /// decoded is listed in the clip's issues and skipped.
    func fill<Generator: RandomNumberGenerator>(
        _ clip: inout VideoClip, frameNames: [String], path: String, training: Bool, using generator: inout Generator,
        bytes: (Int) throws -> Data
    ) {
        func issue(_ kind: FrameIssue.Kind, member: String? = nil, _ reason: String) {
            clip.issues.append(FrameIssue(videoID: clip.videoID, kind: kind, path: path, member: member, reason: reason))
        }
        let selected = training
            ? FrameSelection.randomSubset(frameCount: frameNames.count, maxFrames: maxFrames, using: &generator)
            : FrameSelection.evenStride(frameCount: frameNames.count, maxFrames: maxFrames)
        var slot = 0
        for index in selected {
            let image: RGBImage
            do {
                image = try JPEG.decode(try bytes(index), minimumShorterSide: preprocessing.decodeMinimumShorterSide)
            } catch {
                issue(.unreadableFrame, member: frameNames[index], "\(error)")
                continue
            }
            let frame = training
                ? preprocessing.trainingImage(image, using: &generator)
                : preprocessing.evaluationImage(image)
            let valuesPerFrame = preprocessing.valuesPerFrame
            clip.frames.withUnsafeMutableBufferPointer { frames in
                preprocessing.writeNormalized(
                    frame, table: normalizationTable,
                    into: UnsafeMutableBufferPointer(rebasing: frames[(slot * valuesPerFrame)..<((slot + 1) * valuesPerFrame)]))
            }
            clip.mask[slot] = 1
            slot += 1
        }
        if slot == 0 {
            issue(.noFrames, frameNames.isEmpty ? "the zip has no members" : "none of its \(frameNames.count) members decoded")
        }
    }
}

extension VideoFrameReader {
    /// The evaluation clip of frames held in memory (JPEG bytes in time order, named `frames[i]` in its
    /// issues), chosen and prepared exactly as ``evaluationClip(videoID:)`` does with a zip's members.
    public func evaluationClip(videoID: String, jpegs: [Data]) -> VideoClip {
        var clip = VideoClip(
            videoID: videoID, frameCapacity: maxFrames, height: preprocessing.cropHeight, width: preprocessing.cropWidth)
        clip.framesInZip = jpegs.count
        var unused = NoRandomNumbers()
        fill(&clip, frameNames: jpegs.indices.map { "frames[\($0)]" }, path: "request", training: false, using: &unused) {
            jpegs[$0]
        }
        return clip
    }
}

/// Stands in for a generator on the evaluation path, which draws no random numbers.
private struct NoRandomNumbers: RandomNumberGenerator {
    mutating func next() -> UInt64 {
        preconditionFailure("VideoFrameReader: evaluation must not draw random numbers")
    }
}

/// A frame member whose stated size is over ``VideoFrameReader/maximumFrameBytes``: skipped, never allocated.
struct OversizedFrame: Error, CustomStringConvertible {
    let statedBytes: UInt64
    var description: String {
        "the zip says the member holds \(statedBytes) bytes, over the \(VideoFrameReader.maximumFrameBytes) a frame may have"
    }
}
