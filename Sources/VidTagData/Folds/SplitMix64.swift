/// SplitMix64 (Steele, Lea & Flood 2014): a small seeded generator whose stream is fixed by its seed on
/// every platform and Swift version, for data splits that must reproduce exactly.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// A uniform integer in `0..<bound` (rejection sampling, no modulo bias), independent of the
    /// standard library's `random(in:using:)` algorithm.
    public mutating func uniform(below bound: Int) -> Int {
        precondition(bound > 0, "SplitMix64.uniform(below:) needs a positive bound")
        let limit = UInt64(bound)
        let threshold = (0 &- limit) % limit  // 2^64 mod bound
        while true {
            let draw = next()
            if draw >= threshold { return Int(draw % limit) }
        }
    }

    /// Fisher–Yates shuffle of `items` in place, fixed by this generator's state.
    public mutating func shuffle<Element>(_ items: inout [Element]) {
        guard items.count > 1 else { return }
        for position in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(position, uniform(below: position + 1))
        }
    }
}
