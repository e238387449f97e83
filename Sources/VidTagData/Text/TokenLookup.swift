/// An immutable open-addressing hash map from a token's UTF-8 bytes to its id, looked up with a
/// byte range so that WordPiece never builds a `String` per candidate piece.
final class TokenLookup: @unchecked Sendable {
    /// Length in bytes of the longest key.
    let longestKey: Int

    private let bytes: UnsafeMutableBufferPointer<UInt8>
    /// Per slot: offset of the key in `bytes` (or -1 when empty), key length, id, hash.
    private let slotOffset: UnsafeMutableBufferPointer<Int32>
    private let slotLength: UnsafeMutableBufferPointer<Int32>
    private let slotID: UnsafeMutableBufferPointer<Int32>
    private let slotHash: UnsafeMutableBufferPointer<UInt64>
    private let mask: Int

    /// Keys in insertion order; a repeated key keeps the id given last (as Hugging Face does).
    init(keys: [(bytes: ArraySlice<UInt8>, id: Int32)]) {
        var capacity = 16
        while capacity < keys.count * 2 { capacity <<= 1 }
        mask = capacity - 1
        bytes = .allocate(capacity: max(1, keys.reduce(0) { $0 + $1.bytes.count }))
        slotOffset = .allocate(capacity: capacity)
        slotOffset.initialize(repeating: -1)
        slotLength = .allocate(capacity: capacity)
        slotLength.initialize(repeating: 0)
        slotID = .allocate(capacity: capacity)
        slotID.initialize(repeating: 0)
        slotHash = .allocate(capacity: capacity)
        slotHash.initialize(repeating: 0)
        var used = 0
        var longest = 0
        for key in keys where !key.bytes.isEmpty {
            let length = key.bytes.count
            longest = max(longest, length)
            let hash = key.bytes.withUnsafeBufferPointer { Self.hash($0.baseAddress!, length) }
            var slot = Int(truncatingIfNeeded: hash) & mask
            var existing = -1
            while slotOffset[slot] >= 0 {
                if slotHash[slot] == hash && slotLength[slot] == length
                    && key.bytes.elementsEqual(bytes[Int(slotOffset[slot])..<(Int(slotOffset[slot]) + length)])
                {
                    existing = slot
                    break
                }
                slot = (slot + 1) & mask
            }
            if existing >= 0 {
                slotID[existing] = key.id
                continue
            }
            _ = UnsafeMutableBufferPointer(rebasing: bytes[used..<(used + length)]).initialize(from: key.bytes)
            slotOffset[slot] = Int32(used)
            slotLength[slot] = Int32(length)
            slotID[slot] = key.id
            slotHash[slot] = hash
            used += length
        }
        longestKey = longest
    }

    deinit {
        bytes.deallocate()
        slotOffset.deallocate()
        slotLength.deallocate()
        slotID.deallocate()
        slotHash.deallocate()
    }

    /// The id of the key spelled by `count` bytes at `start`, or nil.
    @inline(__always)
    func id(_ start: UnsafePointer<UInt8>, _ count: Int) -> Int32? {
        let hash = Self.hash(start, count)
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let offset = Int(slotOffset[slot])
            if offset < 0 { return nil }
            if slotHash[slot] == hash && Int(slotLength[slot]) == count
                && memoryEqual(bytes.baseAddress! + offset, start, count)
            {
                return slotID[slot]
            }
            slot = (slot + 1) & mask
        }
    }

    /// The id of `token`, or nil.
    func id(of token: String) -> Int32? {
        var token = token
        return token.withUTF8 { utf8 in
            utf8.isEmpty ? nil : id(utf8.baseAddress!, utf8.count)
        }
    }

    @inline(__always)
    private func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        for index in 0..<count where a[index] != b[index] { return false }
        return true
    }

    /// FNV-1a, then a final avalanche so that the low bits used for the slot are well mixed.
    @inline(__always)
    static func hash(_ start: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for index in 0..<count {
            hash = (hash ^ UInt64(start[index])) &* 0x0000_0100_0000_01B3
        }
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return hash
    }
}
