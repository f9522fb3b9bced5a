import Foundation

/// A value of the restricted unpickler. Nothing is ever executed: globals are only names, checked against
/// an allow-list of what a PyTorch state dict needs.
enum PickleValue {
    case none, bool(Bool), int(Int), float(Double), string(String), bytes([UInt8])
    case tuple([PickleValue]), list([PickleValue]), dict([(PickleValue, PickleValue)])
    case global(String)                 // "module.name", allowed
    case storage(type: String, key: String, count: Int)
    case tensor(TensorRecord)
    case opaque(String)                 // an allowed object we do not need (e.g. a Lightning callback)
    case mark

    /// Elements a copy of this value's container costs (1 for a scalar).
    var weight: Int {
        switch self {
        case .tuple(let v), .list(let v): return max(1, v.count)
        case .dict(let v): return max(1, v.count)
        default: return 1
        }
    }
}

/// A tensor as a pickle describes it: a view into a storage.
struct TensorRecord {
    let storageType: String, storageKey: String
    let offset: Int
    let shape: [Int], stride: [Int]
}

/// Reads PyTorch's `data.pkl` with a fixed set of opcodes and globals; anything else is refused.
///
/// Hostile pickles are bounded: values nest at most `maxDepth` levels (deeper nesting would overflow the
/// stack when the value is freed, since that is recursive), the work spent copying shared containers is
/// limited in proportion to the pickle's size, and every length is checked against the bytes left.
struct Unpickler {
    static let allowedGlobals: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage", "torch.LongStorage",
        "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage", "torch.BoolStorage",
        "torch._utils._rebuild_tensor", "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype",
        "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint", "builtins.set",
    ]
    /// Deepest nesting of containers accepted (a state dict nests a handful of levels).
    static let maxDepth = 256
    /// Most dimensions a tensor may have.
    static let maxRank = 32

    /// A value on the stack or in the memo, with how deeply it nests (0 for a scalar).
    struct Item {
        var value: PickleValue
        var depth: Int
    }

    let bytes: Data
    let file: String
    /// What the pickle is, for errors ("data.pkl", or which pickle of a legacy file).
    let label: String
    /// Where the pickle may end (exclusive): `run` never reads at or past it.
    let end: Int
    var pos: Int
    var stack: [Item] = []
    var memo: [Int: Item] = [:]
    /// Element copies still allowed: sharing a container through the memo makes its next change copy it.
    var workLeft: Int
    /// The most pickle bytes the copy budget grows with.
    static let budgetedBytes = 4 << 20

    /// Storages referenced by persistent ids so far: key -> (storage type, element count).
    private(set) var storages: [String: (type: String, count: Int)] = [:]

    /// A pickle held in memory (a zip archive's `data.pkl`).
    init(bytes: [UInt8], file: String) {
        self.init(data: Data(bytes), range: 0..<bytes.count, file: file, label: "data.pkl")
    }

    /// The pickle starting at `range.lowerBound` of `data` and ending (STOP) inside `range`; `label` names it
    /// in errors. After `run`, `pos` is the byte after the STOP opcode.
    init(data: Data, range: Range<Int>, file: String, label: String) {
        bytes = data.startIndex == 0 ? data : Data(data)
        self.file = file; self.label = label
        pos = range.lowerBound
        end = min(range.upperBound, bytes.count)
        // A budget for copying shared containers that grows with the pickle's size, up to what a 4 MiB pickle
        // gets (state-dict pickles are a few hundred KB; a legacy file's range runs to the end of the file).
        workLeft = (1 << 20) + 16 * min(range.count, Self.budgetedBytes)
    }

    func fail(_ m: String) -> CheckpointError { CheckpointError(file, "\(label): \(m)") }

    mutating func read(_ n: Int) throws -> Data {
        guard n >= 0, pos <= end, n <= end - pos else { throw fail("truncated pickle (\(n) bytes wanted at byte \(pos) of \(end))") }
        defer { pos += n }
        return bytes[pos..<(pos + n)]
    }

    /// An unsigned little-endian integer of `n` <= 4 bytes.
    mutating func uint(_ n: Int) throws -> Int {
        try read(n).reversed().reduce(0) { $0 << 8 | Int($1) }
    }

    mutating func line() throws -> String {
        guard pos < end, let newline = bytes[pos..<end].prefix(1024).firstIndex(of: 0x0A) else { throw fail("unterminated or overlong GLOBAL name at byte \(pos)") }
        defer { pos = newline + 1 }
        return String(decoding: bytes[pos..<newline], as: UTF8.self)
    }

    mutating func push(_ value: PickleValue, depth: Int = 0) throws {
        guard depth <= Self.maxDepth else {
            throw fail("values nest more than \(Self.maxDepth) levels deep at byte \(pos): not a PyTorch state dict")
        }
        stack.append(Item(value: value, depth: depth))
    }

    mutating func pop() throws -> Item {
        guard let v = stack.popLast() else { throw fail("stack underflow at byte \(pos)") }
        return v
    }

    mutating func popToMark() throws -> [Item] {
        guard let m = stack.lastIndex(where: { if case .mark = $0.value { return true } else { return false } }) else {
            throw fail("missing MARK at byte \(pos)")
        }
        let items = Array(stack[(m + 1)...])
        stack.removeSubrange(m...)
        return items
    }

    /// Pushes a container of `items` one level deeper than the deepest of them.
    mutating func pushContainer(_ items: [Item], _ make: ([PickleValue]) -> PickleValue) throws {
        try push(make(items.map(\.value)), depth: 1 + (items.map(\.depth).max() ?? 0))
    }

    /// Charges the copy that sharing `item` (memo, BINGET) may cause later.
    mutating func charge(_ item: Item) throws {
        workLeft -= item.value.weight
        guard workLeft >= 0 else { throw fail("too much copying of shared containers at byte \(pos): not a PyTorch state dict") }
    }

    mutating func memoize(_ key: Int) throws {
        guard let top = stack.last else { throw fail("memo store on an empty stack at byte \(pos)") }
        try charge(top)
        memo[key] = top
    }

    mutating func global(_ name: String) throws -> PickleValue {
        guard Self.allowedGlobals.contains(name) else {
            throw fail("refusing global '\(name)': only what a PyTorch state dict needs is allowed (no code is ever run)")
        }
        return .global(name)
    }

    mutating func run() throws -> PickleValue {
        while true {
            let op = try read(1).first ?? 0
            if op == 0x2E { return try pop().value }                             // STOP
            try step(op)
        }
    }

    /// Runs one opcode (all but STOP).
    mutating func step(_ op: UInt8) throws {
        switch op {
        case 0x80: _ = try read(1)                                              // PROTO
        case 0x95: _ = try read(8)                                              // FRAME
        case 0x7D: try push(.dict([]), depth: 1)                                // EMPTY_DICT
        case 0x5D: try push(.list([]), depth: 1)                                // EMPTY_LIST
        case 0x29: try push(.tuple([]), depth: 1)                               // EMPTY_TUPLE
        case 0x28: try push(.mark)                                              // MARK
        case 0x4E: try push(.none)
        case 0x88: try push(.bool(true))
        case 0x89: try push(.bool(false))
        case 0x4B: try push(.int(try uint(1)))                                  // BININT1
        case 0x4D: try push(.int(try uint(2)))                                  // BININT2
        case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
        case 0x8A: try push(.int(try long1()))                                  // LONG1
        case 0x47:                                                              // BINFLOAT (big endian)
            let b = try read(8)
            try push(.float(Double(bitPattern: b.reduce(0) { $0 << 8 | UInt64($1) })))
        case 0x58, 0x54: try push(.string(String(decoding: try read(try uint(4)), as: UTF8.self)))   // BINUNICODE, BINSTRING
        case 0x8C, 0x55: try push(.string(String(decoding: try read(try uint(1)), as: UTF8.self)))   // SHORT_BINUNICODE, SHORT_BINSTRING
        case 0x43: try push(.bytes(Array(try read(try uint(1)))))               // SHORT_BINBYTES
        case 0x42: try push(.bytes(Array(try read(try uint(4)))))               // BINBYTES
        case 0x71: try memoize(try uint(1))                                     // BINPUT
        case 0x72: try memoize(try uint(4))                                     // LONG_BINPUT
        case 0x94: try memoize(memo.count)                                      // MEMOIZE
        case 0x68, 0x6A:                                                        // BINGET, LONG_BINGET
            let k = try uint(op == 0x68 ? 1 : 4)
            guard let v = memo[k] else { throw fail("memo \(k) missing") }
            try charge(v)
            stack.append(v)
        case 0x74: try pushContainer(try popToMark(), PickleValue.tuple)        // TUPLE
        case 0x85: try pushContainer([try pop()], PickleValue.tuple)            // TUPLE1
        case 0x86: let b = try pop(), a = try pop(); try pushContainer([a, b], PickleValue.tuple)
        case 0x87: let c = try pop(), b = try pop(), a = try pop(); try pushContainer([a, b, c], PickleValue.tuple)
        case 0x63:                                                              // GLOBAL
            let module = try line(), name = try line()
            try push(try global("\(module).\(name)"))
        case 0x93:                                                              // STACK_GLOBAL
            guard case .string(let name) = try pop().value, case .string(let module) = try pop().value else { throw fail("bad STACK_GLOBAL") }
            try push(try global("\(module).\(name)"))
        case 0x51: try push(try persistentID(try pop().value))                  // BINPERSID
        case 0x52, 0x81:                                                        // REDUCE, NEWOBJ
            let args = try pop(), callable = try pop()
            try push(try reduce(callable.value, args.value), depth: 1)   // holds no pickle values (a tensor, an empty dict, ...)
        case 0x62: _ = try pop()                                                // BUILD: state is not needed
        case 0x73: let v = try pop(), k = try pop(); try addToDict([k, v])      // SETITEM
        case 0x75: try addToDict(try popToMark())                              // SETITEMS
        case 0x61: try addToList([try pop()])                                   // APPEND
        case 0x65: try addToList(try popToMark())                               // APPENDS
        default:
            throw fail(String(format: "unsupported pickle opcode 0x%02x at byte %d", op, pos - 1))
        }
    }

    /// LONG1: a little-endian two's complement integer of at most 8 bytes.
    mutating func long1() throws -> Int {
        let n = try uint(1)
        let b = Array(try read(n))
        guard n <= 8 else { throw fail("LONG1 integer of \(n) bytes at byte \(pos) is too large") }
        var v = 0
        for (i, x) in b.enumerated() { v |= Int(x) << (8 * i) }
        if n > 0, n < 8, b[n - 1] & 0x80 != 0 { v -= 1 << (8 * n) }
        return v
    }

    /// The container on top of the stack, taken out of the stack so that changing it does not copy it.
    mutating func takeTop(_ what: String) throws -> Item {
        guard !stack.isEmpty else { throw fail("\(what) on an empty stack at byte \(pos)") }
        let top = stack[stack.count - 1]
        stack[stack.count - 1].value = .none
        return top
    }

    mutating func addToDict(_ items: [Item]) throws {
        guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items at byte \(pos)") }
        var top = try takeTop("SETITEM")
        guard case .dict(var d) = top.value else { throw fail("SETITEM on a non-dict at byte \(pos)") }
        top.value = .none
        var i = 0
        while i + 1 < items.count {
            d.append((items[i].value, items[i + 1].value))
            top.depth = max(top.depth, 1 + max(items[i].depth, items[i + 1].depth))
            i += 2
        }
        try replaceTop(.dict(d), depth: top.depth)
    }

    mutating func addToList(_ items: [Item]) throws {
        var top = try takeTop("APPEND")
        guard case .list(var l) = top.value else { throw fail("APPEND on a non-list at byte \(pos)") }
        top.value = .none
        for item in items {
            l.append(item.value)
            top.depth = max(top.depth, 1 + item.depth)
        }
        try replaceTop(.list(l), depth: top.depth)
    }

    mutating func replaceTop(_ value: PickleValue, depth: Int) throws {
        stack.removeLast()
        try push(value, depth: depth)
    }

    /// BINPERSID: PyTorch's reference to a storage, `("storage", type, key, location, count)`; every storage
    /// is recorded, and one key must always name the same type and count.
    mutating func persistentID(_ id: PickleValue) throws -> PickleValue {
        guard case .tuple(let t) = id, t.count >= 5, case .string("storage") = t[0],
              case .global(let type) = t[1], case .string(let key) = t[2], case .int(let count) = t[4] else {
            throw fail("unsupported persistent id at byte \(pos)")
        }
        if let known = storages[key], known.type != type || known.count != count {
            throw fail("storage \(key) is referenced as \(known.count) x \(known.type) and as \(count) x \(type)")
        }
        storages[key] = (type, count)
        return .storage(type: type, key: key, count: count)
    }

    func reduce(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case .global(let name) = callable, case .tuple(let a) = args else { throw fail("REDUCE of a non-global at byte \(pos)") }
        switch name {
        case "collections.OrderedDict": return .dict([])
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor": return .tensor(try tensorRecord(a))
        case "torch._utils._rebuild_parameter":
            guard let first = a.first, case .tensor = first else { throw fail("bad parameter record at byte \(pos)") }
            return first
        default:
            return .opaque(name)
        }
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, ...)`. The values are checked against the storage
    /// by `PickleCheckpoint`, which knows the tensor's name.
    func tensorRecord(_ a: [PickleValue]) throws -> TensorRecord {
        guard a.count >= 4, case .storage(let type, let key, _) = a[0], case .int(let offset) = a[1],
              case .tuple(let size) = a[2], case .tuple(let stride) = a[3] else { throw fail("bad tensor record at byte \(pos)") }
        guard size.count == stride.count, size.count <= Self.maxRank else {
            throw fail("tensor record at byte \(pos) has \(size.count) sizes and \(stride.count) strides (at most \(Self.maxRank) dimensions)")
        }
        func ints(_ values: [PickleValue]) throws -> [Int] {
            try values.map { v in
                guard case .int(let i) = v else { throw fail("tensor record at byte \(pos): sizes and strides must be integers") }
                return i
            }
        }
        return TensorRecord(storageType: type, storageKey: key, offset: offset, shape: try ints(size), stride: try ints(stride))
    }
}
