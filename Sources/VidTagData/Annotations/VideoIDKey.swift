/// A video id packed into two integers when it is all digits (every WeChat id is 19–20 digits), so that
/// sets and maps over a million ids hold 17-byte keys instead of heap-allocated strings.
/// Ids of other shapes fall back to strings in ``VideoIDMap``.
struct VideoIDKey: Hashable, Sendable {
    var high: UInt64
    var low: UInt64
    var length: UInt8

    /// Digits beyond the last 18 go to `high` (up to 18 more), so ids of up to 36 digits pack.
    init?<Bytes: Collection>(_ id: Bytes) where Bytes.Element == UInt8 {
        let count = id.count
        guard count > 0, count <= 36 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        let lowStart = count - min(count, 18)
        for (position, byte) in id.enumerated() {
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            if position < lowStart { high = high &* 10 &+ UInt64(digit) } else { low = low &* 10 &+ UInt64(digit) }
        }
        self.high = high
        self.low = low
        self.length = UInt8(count)
    }

    init?(_ id: String) { self.init(Substring(id).utf8) }
}

/// A map from video id to value, compact for numeric ids.
struct VideoIDMap<Value: Sendable>: Sendable {
    private var packed: [VideoIDKey: Value] = [:]
    private var other: [String: Value] = [:]

    var count: Int { packed.count + other.count }

    mutating func reserveCapacity(_ capacity: Int) { packed.reserveCapacity(capacity) }

    subscript(id: String) -> Value? {
        get { VideoIDKey(id).map { packed[$0] } ?? other[id] }
        set {
            if let key = VideoIDKey(id) { packed[key] = newValue } else { other[id] = newValue }
        }
    }

    subscript(utf8 id: Substring.UTF8View) -> Value? {
        if let key = VideoIDKey(id) { return packed[key] }
        return other[String(Substring(id))]
    }

    /// Stores `value` under the id spelled by UTF-8 `bytes` unless present; returns whether it was inserted.
    mutating func insertNew<Bytes: Collection>(utf8 bytes: Bytes, _ value: Value) -> Bool where Bytes.Element == UInt8 {
        if let key = VideoIDKey(bytes) {
            if packed[key] != nil { return false }
            packed[key] = value
            return true
        }
        return insertNew(String(decoding: bytes, as: UTF8.self), value)
    }

    /// Stores `value` unless the id is present; returns whether it was inserted.
    mutating func insertNew(_ id: String, _ value: Value) -> Bool {
        if let key = VideoIDKey(id) {
            if packed[key] != nil { return false }
            packed[key] = value
        } else {
            if other[id] != nil { return false }
            other[id] = value
        }
        return true
    }
}

/// A set of video ids, compact for numeric ids.
struct VideoIDSet: Sendable {
    private var packed = Set<VideoIDKey>()
    private var other = Set<String>()

    var count: Int { packed.count + other.count }

    /// Inserts `id`; returns false when it was already present.
    @discardableResult
    mutating func insert(_ id: String) -> Bool {
        if let key = VideoIDKey(id) { return packed.insert(key).inserted }
        return other.insert(id).inserted
    }

    func contains(_ id: String) -> Bool {
        if let key = VideoIDKey(id) { return packed.contains(key) }
        return other.contains(id)
    }
}
