/// What loading met, summed over samples and batches: videos read, frame zip problems (missing zips,
/// corrupt JPEGs, empty clips), feature members that could not be read or had no rows. Bad annotation
/// records are in ``VideoIndex/annotationReport``.
public struct LoadReport: Sendable, CustomStringConvertible {
    /// Samples built.
    public var samples = 0
    /// Frame zip reading (pixel samples only).
    public var frames = FrameReadReport(issueLimit: 20)
    /// Feature rows put into samples.
    public var featureFramesRead = 0
    /// Feature members with zero rows.
    public var videosWithoutFeatures = 0
    /// Feature members that could not be read (counted under `.skip`).
    public var featureProblems = 0
    /// The first ``exampleLimit`` feature problems in full.
    public var featureProblemExamples: [FeatureError] = []
    public static let exampleLimit = 20

    public init() {}

    mutating func recordFeatureProblem(_ error: FeatureError) {
        featureProblems += 1
        if featureProblemExamples.count < Self.exampleLimit { featureProblemExamples.append(error) }
    }

    /// Adds another report's counts and examples.
    public mutating func merge(_ other: LoadReport) {
        samples += other.samples
        frames.merge(other.frames)
        featureFramesRead += other.featureFramesRead
        videosWithoutFeatures += other.videosWithoutFeatures
        featureProblems += other.featureProblems
        featureProblemExamples += other.featureProblemExamples.prefix(max(0, Self.exampleLimit - featureProblemExamples.count))
    }

    public var description: String {
        var text = "\(samples) samples"
        if frames.clipCount > 0 { text += "; frames: \(frames)" }
        if featureFramesRead > 0 || featureProblems > 0 || videosWithoutFeatures > 0 {
            text += "; features: \(featureFramesRead) rows read, \(videosWithoutFeatures) videos without rows, "
                + "\(featureProblems) unreadable members"
        }
        return text
    }
}
