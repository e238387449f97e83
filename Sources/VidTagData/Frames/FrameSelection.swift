/// Which of a video's frames (in time order) go into a clip of at most `maxFrames`, as the challenge's
/// reference data helper picks them.
public enum FrameSelection {
    /// Evaluation: all frames when there are at most `maxFrames`; otherwise every `n / maxFrames`-th
    /// frame (integer division) from the first, the first `maxFrames` of them
    /// (`list(range(0, n, n // max_frames))[:max_frames]`). So 20 frames into 8 gives 0, 2, …, 14,
    /// and 32 into 8 gives 0, 4, …, 28: an even stride that may leave the tail out.
    public static func evenStride(frameCount: Int, maxFrames: Int) -> [Int] {
        precondition(maxFrames > 0, "FrameSelection: maxFrames must be positive, got \(maxFrames)")
        guard frameCount > maxFrames else { return Array(0..<max(frameCount, 0)) }
        let step = frameCount / maxFrames
        return Array(stride(from: 0, to: frameCount, by: step).prefix(maxFrames))
    }

    /// Training: all frames when there are at most `maxFrames`; otherwise a uniformly random subset of
    /// `maxFrames` frames, in time order (the reference shuffles the indices, keeps the first
    /// `maxFrames` and sorts them).
    public static func randomSubset<Generator: RandomNumberGenerator>(
        frameCount: Int, maxFrames: Int, using generator: inout Generator
    ) -> [Int] {
        precondition(maxFrames > 0, "FrameSelection: maxFrames must be positive, got \(maxFrames)")
        guard frameCount > maxFrames else { return Array(0..<max(frameCount, 0)) }
        return Array((0..<frameCount).shuffled(using: &generator).prefix(maxFrames)).sorted()
    }
}
