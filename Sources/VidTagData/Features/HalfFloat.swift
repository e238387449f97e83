/// IEEE 754 binary16 ⇄ binary32 conversion on bit patterns, written out so that it behaves the same on
/// every platform (Swift's `Float16` is missing on x86_64 macOS). Float → half rounds to nearest, ties
/// to even, with subnormals, overflow to infinity, and NaN kept NaN (quiet, sign kept), as NumPy does.
public enum HalfFloat {
    /// The float value of a half-precision bit pattern (exact: every half is a float).
    @inlinable
    public static func float(fromBits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa × 2^-24, exact in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
    }

    /// The half-precision bit pattern nearest to `value` (ties to even).
    @inlinable
    public static func bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {
            if magnitude == 0x7F80_0000 { return sign | 0x7C00 }
            return sign | 0x7E00 | UInt16((magnitude >> 13) & 0x3FF)
        }
        if magnitude >= 0x477F_F000 { return sign | 0x7C00 }  // ≥ 65520 rounds past 65504
        if magnitude < 0x3880_0000 {  // below 2^-14: a subnormal half or zero
            let scaled = (Float(bitPattern: magnitude) * 0x1p24).rounded(.toNearestOrEven)
            return sign | UInt16(scaled)
        }
        var half = (magnitude >> 13) &- (112 << 10)
        let remainder = magnitude & 0x1FFF
        if remainder > 0x1000 || (remainder == 0x1000 && (half & 1) == 1) { half += 1 }
        return sign | UInt16(half)
    }

    /// All 65,536 half values as floats, for fast bulk decoding.
    public static let decodingTable: [Float] = (0...UInt16.max).map { float(fromBits: $0) }
}
