/// What BERT's basic tokenizer does with one Unicode scalar, as bit flags.
struct BertCharacterFlags: OptionSet, Sendable {
    let rawValue: UInt8

    /// Removed by text cleaning.
    static let dropped = BertCharacterFlags(rawValue: 1 << 0)
    /// A word boundary (cleaned to a space).
    static let whitespace = BertCharacterFlags(rawValue: 1 << 1)
    /// Split off as a word of its own.
    static let punctuation = BertCharacterFlags(rawValue: 1 << 2)
    /// A CJK ideograph: a word of its own when `tokenizeChineseChars` is on.
    static let chinese = BertCharacterFlags(rawValue: 1 << 3)
    /// Changed by accent stripping (NFD, then nonspacing marks removed).
    static let changedByStripping = BertCharacterFlags(rawValue: 1 << 4)
    /// Changed by lower-casing.
    static let changedByLowercasing = BertCharacterFlags(rawValue: 1 << 5)
}

/// The per-scalar data of `BertCharacterTable`, unpacked once per process into a two-level lookup
/// table (256-scalar blocks, identical blocks shared) plus the two replacement maps.
struct BertCharacterClasses: Sendable {
    /// Parsed on first use; every tokenizer shares it.
    static let shared = BertCharacterClasses()

    static let hangulFirst: UInt32 = 0xAC00
    static let hangulLast: UInt32 = 0xD7A3

    /// Block number of each 256-scalar block of the code space (0x1100 blocks).
    let blockOfPage: [UInt16]
    /// Flags of the distinct blocks, 256 bytes each.
    let blockFlags: [UInt8]
    /// Accent stripping of the scalars flagged `changedByStripping` (Hangul syllables excluded: algorithmic).
    let strippedForms: [UInt32: [Unicode.Scalar]]
    /// Lower-casing of the scalars flagged `changedByLowercasing`.
    let lowercaseForms: [UInt32: [Unicode.Scalar]]

    private init() {
        var flat = [UInt8](repeating: 0, count: 0x110000)
        func mark(_ table: String, _ flag: BertCharacterFlags) {
            for (first, last) in Self.parseRanges(table) {
                for scalar in first...last { flat[Int(scalar)] |= flag.rawValue }
            }
        }
        mark(BertCharacterTable.dropped, .dropped)
        mark(BertCharacterTable.whitespace, .whitespace)
        mark("20", .whitespace)
        mark(BertCharacterTable.punctuation, .punctuation)
        mark(BertCharacterTable.chinese, .chinese)
        let stripped = Self.parseMapping(BertCharacterTable.stripAccents)
        let lowered = Self.parseMapping(BertCharacterTable.lowercase)
        for scalar in stripped.keys { flat[Int(scalar)] |= BertCharacterFlags.changedByStripping.rawValue }
        for scalar in Self.hangulFirst...Self.hangulLast {
            flat[Int(scalar)] |= BertCharacterFlags.changedByStripping.rawValue
        }
        for scalar in lowered.keys { flat[Int(scalar)] |= BertCharacterFlags.changedByLowercasing.rawValue }

        var blockNumbers: [[UInt8]: UInt16] = [:]
        var pages = [UInt16]()
        var blocks = [UInt8]()
        pages.reserveCapacity(0x1100)
        for page in 0..<0x1100 {
            let block = Array(flat[(page << 8)..<((page + 1) << 8)])
            if let number = blockNumbers[block] {
                pages.append(number)
            } else {
                let number = UInt16(blockNumbers.count)
                blockNumbers[block] = number
                blocks.append(contentsOf: block)
                pages.append(number)
            }
        }
        blockOfPage = pages
        blockFlags = blocks
        strippedForms = stripped
        lowercaseForms = lowered
    }

    /// The flags of `scalar` (a valid Unicode scalar value).
    @inline(__always)
    func flags(_ scalar: UInt32) -> BertCharacterFlags {
        let block = Int(blockOfPage[Int(scalar >> 8)])
        return BertCharacterFlags(rawValue: blockFlags[(block << 8) | Int(scalar & 0xFF)])
    }

    /// The canonical decomposition of a precomposed Hangul syllable into conjoining jamo.
    static func hangulJamo(_ scalar: UInt32) -> [Unicode.Scalar] {
        let index = scalar - hangulFirst
        let lead = 0x1100 + index / 588
        let vowel = 0x1161 + (index % 588) / 28
        let tail = 0x11A7 + index % 28
        var jamo = [Unicode.Scalar(lead)!, Unicode.Scalar(vowel)!]
        if tail != 0x11A7 { jamo.append(Unicode.Scalar(tail)!) }
        return jamo
    }

    /// "21-2F 3A" (line breaks ignored) → [(0x21, 0x2F), (0x3A, 0x3A)].
    private static func parseRanges(_ table: String) -> [(UInt32, UInt32)] {
        table.filter { $0 != "\n" }.split(separator: " ").map { item in
            let bounds = item.split(separator: "-").map { UInt32($0, radix: 16)! }
            return (bounds[0], bounds.count == 2 ? bounds[1] : bounds[0])
        }
    }

    /// "C0:41 1E9E:73,73" (line breaks ignored) → [0xC0: ["A"], 0x1E9E: ["s", "s"]].
    private static func parseMapping(_ table: String) -> [UInt32: [Unicode.Scalar]] {
        var mapping: [UInt32: [Unicode.Scalar]] = [:]
        for item in table.filter({ $0 != "\n" }).split(separator: " ") {
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            let replacement = parts[1].split(separator: ",").map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
            mapping[UInt32(parts[0], radix: 16)!] = replacement
        }
        return mapping
    }
}
