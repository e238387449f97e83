/// Seeds of independent random streams derived from one run seed and a path of integers
/// (split, epoch, video index, ...), so that every draw in a run is fixed by its seed alone, whatever
/// the thread or order that computes it.
public enum SeedDerivation {
    /// A seed fixed by `base` and `path`: each part is mixed in through one SplitMix64 step.
    public static func seed(_ base: UInt64, _ path: UInt64...) -> UInt64 { seed(base, path: path) }

    /// A seed fixed by `base` and `path`.
    public static func seed(_ base: UInt64, path: [UInt64]) -> UInt64 {
        var state = base
        for part in path {
            var generator = SplitMix64(seed: state ^ (part &* 0xD1B5_4A32_D192_ED03))
            state = generator.next()
        }
        var generator = SplitMix64(seed: state)
        return generator.next()
    }

    /// A generator for the stream of `base` and `path`.
    public static func generator(_ base: UInt64, _ path: UInt64...) -> SplitMix64 {
        SplitMix64(seed: seed(base, path: path))
    }
}
