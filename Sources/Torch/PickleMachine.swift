import Foundation

/// A value on the stack of `PickleMachine`. Only plain data and the objects the rules made (the globals they
/// allowed and what calling those gave): nothing here can run code.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    /// An object the rules made (an allowed global, a storage, a tensor record, …); its description names it
    /// in errors.
    case object(any Sendable & CustomStringConvertible)

    /// What kind of value this is, for error messages (never the value itself: it may be huge).
    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .tuple(let tuple): "tuple of \(tuple.items.count)"
        case .list: "list"
        case .dict: "dict"
        case .object(let object): object.description
        }
    }
}

/// An immutable tuple and how deeply tuples nest in it (bounded, so that freeing one never recurses deeply).
struct PickleTuple {
    let items: [PickleValue]
    let depth: Int

    init(_ items: [PickleValue]) throws(PickleMachine.Problem) {
        var depth = 1
        for case .tuple(let inner) in items { depth = Swift.max(depth, inner.depth + 1) }
        guard depth <= PickleMachine.maximumTupleDepth else {
            throw PickleMachine.Problem("tuples nest more than \(PickleMachine.maximumTupleDepth) deep")
        }
        self.items = items
        self.depth = depth
    }
}

/// A mutable list (lists are shared by reference through the memo, as in Python).
final class PickleList {
    var items: [PickleValue] = []
}

/// A mutable dictionary keeping insertion order (Python's dict and OrderedDict both do).
final class PickleDict {
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var stringIndex: [String: Int] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        if case .string(let text) = key {
            if let index = stringIndex[text] {
                values[index] = value
                return
            }
            stringIndex[text] = keys.count
        }
        keys.append(key)
        values.append(value)
    }

    func removeAll() {
        keys.removeAll()
        values.removeAll()
        stringIndex.removeAll()
    }
}

/// What a pickle may refer to and how its calls are answered. `PickleMachine` has no built-in globals:
/// every GLOBAL / STACK_GLOBAL is put to `global`, every REDUCE to `call`, and so on. An error thrown here
/// stops the machine and is reported with the position in the pickle.
protocol PickleRules {
    /// The object standing for `module.name`, or an error naming it when the rules do not allow it.
    func global(module: String, name: String) throws -> PickleValue
    /// The object a persistent id (BINPERSID) stands for.
    func persistentLoad(_ id: PickleValue) throws -> PickleValue
    /// The result of calling an allowed global with `arguments` (REDUCE).
    func call(_ callable: PickleValue, arguments: [PickleValue]) throws -> PickleValue
    /// Applies BUILD's `state` to `object`.
    func build(_ object: PickleValue, state: PickleValue) throws
}

/// A restricted unpickler: it interprets the binary opcodes `torch.save` writes (pickle protocol 2, and the
/// few of protocols 3–5 that other writers use for the same data), never imports or calls anything itself,
/// and refuses every other opcode by name and position. Unlike Python's `pickle.load`, running it on an
/// untrusted file is safe: the rules decide what each global means, and bad input is an error, never a crash.
/// See https://docs.python.org/3/library/pickle.html and CPython's `Lib/pickletools.py` for the opcodes.
final class PickleMachine {
    /// A problem with the pickle, at a byte offset.
    struct Problem: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static let maximumTupleDepth = 256

    private let bytes: [UInt8]
    private let rules: any PickleRules
    private var position = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    /// Every list and dictionary made, emptied when the machine goes away, so that freeing deeply nested
    /// containers never recurses.
    private var lists: [PickleList] = []
    private var dicts: [PickleDict] = []

    init(_ bytes: [UInt8], rules: any PickleRules) {
        self.bytes = bytes
        self.rules = rules
    }

    /// Runs the pickle to its STOP opcode and hands the value it built to `use`. The value's lists and
    /// dictionaries are emptied when `use` returns (so that freeing deeply nested ones never recurses): keep
    /// what `use` returns, not the value.
    /// - Throws: `Problem` naming the byte offset and the opcode, or what `use` throws.
    func run<Result>(_ use: (PickleValue) throws -> Result) throws -> Result {
        defer {
            for list in lists { list.items.removeAll() }
            for dict in dicts { dict.removeAll() }
            lists.removeAll()
            dicts.removeAll()
            stack.removeAll()
            memo.removeAll()
        }
        return try use(try interpret())
    }

    private func interpret() throws(Problem) -> PickleValue {
        while true {
            let start = position
            let opcode = try byte()
            do {
                if let result = try step(opcode) { return result }
            } catch {
                throw Problem("byte \(start), opcode \(Self.name(of: opcode)): \(error)")
            }
        }
    }

    // MARK: Reading the stream

    private func byte() throws(Problem) -> UInt8 {
        guard position < bytes.count else { throw Problem("the pickle ends at byte \(position) without STOP: truncated") }
        defer { position += 1 }
        return bytes[position]
    }

    private func take(_ count: Int) throws(Problem) -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else {
            throw Problem("needs \(count) bytes at byte \(position), only \(bytes.count - position) left: truncated")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    private func littleEndian(_ count: Int) throws(Problem) -> UInt64 {
        var value: UInt64 = 0
        for (shift, byte) in try take(count).enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
        return value
    }

    private func line() throws(Problem) -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw Problem("unterminated text line") }
        let text = try utf8(bytes[position..<end])
        position = end + 1
        return text
    }

    private func utf8(_ slice: ArraySlice<UInt8>) throws(Problem) -> String {
        guard let text = slice.withUnsafeBytes({ String(validating: $0, as: UTF8.self) }) else {
            throw Problem("text is not valid UTF-8")
        }
        return text
    }

    private func length(_ count: Int) throws(Problem) -> Int {
        let value = try littleEndian(count)
        guard value <= UInt64(bytes.count) else { throw Problem("length \(value) is larger than the pickle") }
        return Int(value)
    }

    // MARK: The stack

    private func pop() throws(Problem) -> PickleValue {
        guard let value = stack.popLast() else { throw Problem("pops an empty stack") }
        if let mark = marks.last, stack.count < mark { throw Problem("pops past a MARK") }
        return value
    }

    private func popToMark() throws(Problem) -> [PickleValue] {
        guard let mark = marks.popLast() else { throw Problem("no MARK to pop to") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func top() throws(Problem) -> PickleValue {
        guard let value = stack.last, stack.count > (marks.last ?? 0) else { throw Problem("reads an empty stack") }
        return value
    }

    private func newList() -> PickleList {
        let list = PickleList()
        lists.append(list)
        return list
    }

    /// A value the rules made, its containers registered like the machine's own.
    private func tracked(_ value: PickleValue) -> PickleValue {
        if case .list(let list) = value { lists.append(list) }
        if case .dict(let dict) = value { dicts.append(dict) }
        return value
    }

    private func newDict() -> PickleDict {
        let dict = PickleDict()
        dicts.append(dict)
        return dict
    }

    private func setItems(_ items: [PickleValue], into target: PickleValue) throws(Problem) {
        guard case .dict(let dict) = target else { throw Problem("sets items on a value of type \(target.kind), not a dict") }
        guard items.count % 2 == 0 else { throw Problem("an odd number of keys and values") }
        for index in stride(from: 0, to: items.count, by: 2) { dict.set(items[index], items[index + 1]) }
    }

    private func append(_ items: [PickleValue], to target: PickleValue) throws(Problem) {
        guard case .list(let list) = target else { throw Problem("appends to a value of type \(target.kind), not a list") }
        list.items.append(contentsOf: items)
    }

    private func memoKey(_ count: Int) throws(Problem) -> Int {
        Int(try littleEndian(count))
    }

    private func fetch(_ key: Int) throws(Problem) -> PickleValue {
        guard let value = memo[key] else { throw Problem("memo entry \(key) was never stored") }
        return value
    }

    private func tuple(_ items: [PickleValue]) throws(Problem) -> PickleValue {
        .tuple(try PickleTuple(items))
    }

    /// Runs one opcode; returns the result at STOP.
    private func step(_ opcode: UInt8) throws -> PickleValue? {
        switch opcode {
        case 0x80:  // PROTO
            let version = try byte()
            guard version <= 5 else { throw Problem("pickle protocol \(version) is newer than 5") }
        case 0x95:  // FRAME (protocol 4): a length prefix only
            _ = try littleEndian(8)
        case 0x2E:  // STOP
            let result = try pop()
            guard marks.isEmpty else { throw Problem("a MARK is still open") }
            return result
        case 0x28:  // MARK
            marks.append(stack.count)
        case 0x30:  // POP
            _ = try pop()
        case 0x31:  // POP_MARK
            _ = try popToMark()
        case 0x32:  // DUP
            stack.append(try top())

        case 0x4E: stack.append(.none)  // NONE
        case 0x88: stack.append(.bool(true))  // NEWTRUE
        case 0x89: stack.append(.bool(false))  // NEWFALSE
        case 0x4B: stack.append(.int(Int(try littleEndian(1))))  // BININT1
        case 0x4D: stack.append(.int(Int(try littleEndian(2))))  // BININT2
        case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4)))))  // BININT
        case 0x8A:  // LONG1: two's complement, little-endian, n ≤ 8 bytes here
            let count = Int(try byte())
            guard count <= 8 else { throw Problem("integer of \(count) bytes is larger than 64 bits") }
            let raw = try littleEndian(count)
            let shift = UInt64(64 - 8 * count)
            stack.append(.int(count == 0 ? 0 : Int(Int64(bitPattern: raw << shift) >> Int64(shift))))
        case 0x47:  // BINFLOAT (big-endian)
            let raw = try take(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
            stack.append(.float(Double(bitPattern: raw)))

        case 0x58: stack.append(.string(try utf8(take(length(4)))))  // BINUNICODE
        case 0x8C: stack.append(.string(try utf8(take(length(1)))))  // SHORT_BINUNICODE
        case 0x8D: stack.append(.string(try utf8(take(length(8)))))  // BINUNICODE8

        case 0x29: stack.append(try tuple([]))  // EMPTY_TUPLE
        case 0x85: stack.append(try tuple([try pop()]))  // TUPLE1
        case 0x86:  // TUPLE2
            let second = try pop()
            stack.append(try tuple([try pop(), second]))
        case 0x87:  // TUPLE3
            let third = try pop()
            let second = try pop()
            stack.append(try tuple([try pop(), second, third]))
        case 0x74: stack.append(try tuple(try popToMark()))  // TUPLE
        case 0x5D: stack.append(.list(newList()))  // EMPTY_LIST
        case 0x6C:  // LIST
            let list = newList()
            list.items = try popToMark()
            stack.append(.list(list))
        case 0x7D: stack.append(.dict(newDict()))  // EMPTY_DICT
        case 0x64:  // DICT
            let items = try popToMark()
            let dict = newDict()
            try setItems(items, into: .dict(dict))
            stack.append(.dict(dict))
        case 0x61:  // APPEND
            let item = try pop()
            try append([item], to: try top())
        case 0x65:  // APPENDS
            let items = try popToMark()
            try append(items, to: try top())
        case 0x73:  // SETITEM
            let value = try pop()
            let key = try pop()
            try setItems([key, value], into: try top())
        case 0x75:  // SETITEMS
            let items = try popToMark()
            try setItems(items, into: try top())

        case 0x71: memo[try memoKey(1)] = try top()  // BINPUT
        case 0x72: memo[try memoKey(4)] = try top()  // LONG_BINPUT
        case 0x94: memo[memo.count] = try top()  // MEMOIZE
        case 0x68: stack.append(try fetch(try memoKey(1)))  // BINGET
        case 0x6A: stack.append(try fetch(try memoKey(4)))  // LONG_BINGET

        case 0x63:  // GLOBAL: "module\nname\n"
            let module = try line()
            let name = try line()
            stack.append(try rules.global(module: module, name: name))
        case 0x93:  // STACK_GLOBAL
            let name = try pop()
            let module = try pop()
            guard case .string(let moduleText) = module, case .string(let nameText) = name else {
                throw Problem("STACK_GLOBAL needs two strings, got \(module.kind) and \(name.kind)")
            }
            stack.append(try rules.global(module: moduleText, name: nameText))
        case 0x51:  // BINPERSID
            stack.append(tracked(try rules.persistentLoad(try pop())))
        case 0x52:  // REDUCE
            let arguments = try pop()
            let callable = try pop()
            guard case .tuple(let tuple) = arguments else {
                throw Problem("REDUCE needs a tuple of arguments, got \(arguments.kind)")
            }
            stack.append(tracked(try rules.call(callable, arguments: tuple.items)))
        case 0x62:  // BUILD
            let state = try pop()
            try rules.build(try top(), state: state)

        default:
            throw Problem("not an opcode torch.save writes: refused")
        }
        return nil
    }

    /// An opcode's name as `pickletools` prints it.
    static func name(of opcode: UInt8) -> String {
        let names: [UInt8: String] = [
            0x80: "PROTO", 0x95: "FRAME", 0x2E: "STOP", 0x28: "MARK", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP",
            0x4E: "NONE", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x4B: "BININT1", 0x4D: "BININT2", 0x4A: "BININT",
            0x8A: "LONG1", 0x8B: "LONG4", 0x47: "BINFLOAT", 0x58: "BINUNICODE", 0x8C: "SHORT_BINUNICODE",
            0x8D: "BINUNICODE8", 0x29: "EMPTY_TUPLE", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3", 0x74: "TUPLE",
            0x5D: "EMPTY_LIST", 0x6C: "LIST", 0x7D: "EMPTY_DICT", 0x64: "DICT", 0x61: "APPEND", 0x65: "APPENDS",
            0x73: "SETITEM", 0x75: "SETITEMS", 0x71: "BINPUT", 0x72: "LONG_BINPUT", 0x94: "MEMOIZE", 0x68: "BINGET",
            0x6A: "LONG_BINGET", 0x63: "GLOBAL", 0x93: "STACK_GLOBAL", 0x51: "BINPERSID", 0x50: "PERSID",
            0x52: "REDUCE", 0x62: "BUILD", 0x69: "INST", 0x6F: "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX",
            0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES",
            0x8E: "BINBYTES8", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER", 0x8F: "EMPTY_SET",
            0x90: "ADDITEMS", 0x91: "FROZENSET", 0x49: "INT", 0x4C: "LONG", 0x46: "FLOAT", 0x53: "STRING",
            0x54: "BINSTRING", 0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x67: "GET", 0x70: "PUT",
        ]
        return names[opcode].map { "\($0) (0x\(String(opcode, radix: 16)))" } ?? "0x\(String(opcode, radix: 16))"
    }
}
