/// A video's frames ready for a frame encoder: `[frameCapacity, 3, height, width]` Floats and a
/// `[frameCapacity]` mask. Frames that were read fill the first slots in time order; the rest are
/// zeros with mask 0. A video whose zip is missing or has no readable frame has an all-zero mask.
public struct VideoClip: Sendable {
    /// The video's id.
    public let videoID: String
    /// `[frameCapacity, 3, height, width]`, normalised, CHW per frame.
    public var frames: [Float]
    /// `[frameCapacity]`: 1 for a real frame, 0 for padding (the reference's `mask`).
    public var mask: [Int32]
    /// The clip's number of frame slots (`max_frames`).
    public let frameCapacity: Int
    /// Frame height.
    public let height: Int
    /// Frame width.
    public let width: Int
    /// How many frames the video's zip holds (0 when it is missing or unreadable).
    public var framesInZip: Int
    /// What went wrong reading this video; empty when every selected frame was read.
    public var issues: [FrameIssue]

    /// Frames that were read (the number of ones in `mask`).
    public var validFrameCount: Int { mask.reduce(0) { $0 + Int($1) } }

    /// A clip of all padding.
    public init(videoID: String, frameCapacity: Int, height: Int, width: Int) {
        self.videoID = videoID
        self.frames = [Float](repeating: 0, count: frameCapacity * 3 * height * width)
        self.mask = [Int32](repeating: 0, count: frameCapacity)
        self.frameCapacity = frameCapacity
        self.height = height
        self.width = width
        self.framesInZip = 0
        self.issues = []
    }
}

/// One problem met while reading a video's frames. None of them stops loading: the frame (or video)
/// is left out of the clip's mask.
public struct FrameIssue: Sendable, Equatable, CustomStringConvertible {
    /// The kind of problem.
    public enum Kind: String, Sendable, Equatable {
        /// No zip at the expected path.
        case missingZip = "missing frame zip"
        /// The zip exists but is not a readable zip archive.
        case unreadableZip = "unreadable frame zip"
        /// A member could not be extracted or is not a valid, complete JPEG.
        case unreadableFrame = "unreadable frame"
        /// The zip was read but none of its frames could be used (empty zip, or every frame bad).
        case noFrames = "no readable frame"
    }

    /// The video.
    public let videoID: String
    /// The kind of problem.
    public let kind: Kind
    /// The zip's path.
    public let path: String
    /// The zip member, for `unreadableFrame`.
    public let member: String?
    /// The underlying reason.
    public let reason: String

    public var description: String {
        let location = member.map { "\(path): \($0)" } ?? path
        return "video \(videoID): \(kind.rawValue) (\(location)): \(reason)"
    }
}

/// Running totals of what frame loading met, for a log line after an epoch or a prediction run.
/// Add each clip with `record(_:)`; merge per-thread reports with `merge(_:)`.
public struct FrameReadReport: Sendable, CustomStringConvertible {
    /// Clips recorded.
    public private(set) var clipCount = 0
    /// Frames put into clips.
    public private(set) var framesRead = 0
    /// Frames skipped because they could not be read or decoded.
    public private(set) var unreadableFrames = 0
    /// Videos whose zip was missing.
    public private(set) var missingZips = 0
    /// Videos whose zip could not be opened.
    public private(set) var unreadableZips = 0
    /// Videos that ended with an all-zero mask.
    public private(set) var videosWithoutFrames = 0
    /// The first `issueLimit` issues in full, to name the videos and members in a log.
    public private(set) var issues: [FrameIssue] = []
    /// How many issues are kept in `issues`.
    public let issueLimit: Int

    /// An empty report keeping up to `issueLimit` issues in full.
    public init(issueLimit: Int = 100) { self.issueLimit = issueLimit }

    /// Adds a clip's frames and issues.
    public mutating func record(_ clip: VideoClip) {
        clipCount += 1
        let valid = clip.validFrameCount
        framesRead += valid
        if valid == 0 { videosWithoutFrames += 1 }
        for issue in clip.issues {
            switch issue.kind {
            case .missingZip: missingZips += 1
            case .unreadableZip: unreadableZips += 1
            case .unreadableFrame: unreadableFrames += 1
            case .noFrames: break
            }
            if issues.count < issueLimit { issues.append(issue) }
        }
    }

    /// Adds another report's totals and issues.
    public mutating func merge(_ other: FrameReadReport) {
        clipCount += other.clipCount
        framesRead += other.framesRead
        unreadableFrames += other.unreadableFrames
        missingZips += other.missingZips
        unreadableZips += other.unreadableZips
        videosWithoutFrames += other.videosWithoutFrames
        issues.append(contentsOf: other.issues.prefix(max(0, issueLimit - issues.count)))
    }

    public var description: String {
        "\(clipCount) clips, \(framesRead) frames read, \(unreadableFrames) unreadable frames, "
            + "\(missingZips) missing zips, \(unreadableZips) unreadable zips, \(videosWithoutFrames) videos without frames"
    }
}
