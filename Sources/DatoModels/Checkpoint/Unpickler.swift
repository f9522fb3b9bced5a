import Foundation

/// A value of the restricted unpickler. Nothing is ever executed: globals are only names, checked against
/// an allow-list of what a PyTorch state dict needs.
indirect enum PickleValue {
    case none, bool(Bool), int(Int), float(Double), string(String), bytes([UInt8])
    case tuple([PickleValue]), list([PickleValue]), dict([(PickleValue, PickleValue)])
    case global(String)                 // "module.name", allowed
    case storage(type: String, key: String, count: Int)
    case tensor(TensorRecord)
    case opaque(String)                 // an allowed object we do not need (e.g. a Lightning callback)
    case mark
}

/// A tensor as a pickle describes it: a view into a storage.
struct TensorRecord {
    let storageType: String, storageKey: String
    let offset: Int
    let shape: [Int], stride: [Int]
}

/// Reads PyTorch's `data.pkl` with a fixed set of opcodes and globals; anything else is refused.
struct Unpickler {
    static let allowedGlobals: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage", "torch.LongStorage",
        "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage", "torch.BoolStorage",
        "torch._utils._rebuild_tensor", "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype",
        "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint", "builtins.set",
    ]

    let bytes: [UInt8]
    let file: String
    var pos = 0
    var stack: [PickleValue] = []
    var memo: [Int: PickleValue] = [:]

    init(bytes: [UInt8], file: String) { self.bytes = bytes; self.file = file }

    func fail(_ m: String) -> CheckpointError { CheckpointError(file, "data.pkl: \(m)") }

    mutating func read(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, pos + n <= bytes.count else { throw fail("truncated pickle") }
        defer { pos += n }
        return bytes[pos..<(pos + n)]
    }

    mutating func uint(_ n: Int) throws -> Int {
        try read(n).reversed().reduce(0) { $0 << 8 | Int($1) }
    }

    mutating func line() throws -> String {
        guard let end = bytes[pos...].firstIndex(of: 0x0A) else { throw fail("unterminated GLOBAL") }
        defer { pos = end + 1 }
        return String(decoding: bytes[pos..<end], as: UTF8.self)
    }

    mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw fail("stack underflow") }
        return v
    }

    mutating func popToMark() throws -> [PickleValue] {
        guard let m = stack.lastIndex(where: { if case .mark = $0 { return true } else { return false } }) else {
            throw fail("missing MARK")
        }
        let items = Array(stack[(m + 1)...])
        stack.removeSubrange(m...)
        return items
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
            switch op {
            case 0x80: _ = try read(1)                                          // PROTO
            case 0x95: _ = try read(8)                                          // FRAME
            case 0x2E: return try pop()                                          // STOP
            case 0x7D: stack.append(.dict([]))                                   // EMPTY_DICT
            case 0x5D: stack.append(.list([]))                                   // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))                                  // EMPTY_TUPLE
            case 0x28: stack.append(.mark)                                       // MARK
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4B: stack.append(.int(try uint(1)))                           // BININT1
            case 0x4D: stack.append(.int(try uint(2)))                           // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))   // BININT
            case 0x8A:                                                           // LONG1
                let n = try uint(1)
                let b = Array(try read(n))
                var v = 0
                for (i, x) in b.enumerated() where i < 8 { v |= Int(x) << (8 * i) }
                if n > 0, n < 8, b[n - 1] & 0x80 != 0 { v -= 1 << (8 * n) }
                stack.append(.int(v))
            case 0x47:                                                           // BINFLOAT (big endian)
                let b = try read(8)
                stack.append(.float(Double(bitPattern: b.reduce(0) { $0 << 8 | UInt64($1) })))
            case 0x58: stack.append(.string(String(decoding: try read(try uint(4)), as: UTF8.self)))   // BINUNICODE
            case 0x8C: stack.append(.string(String(decoding: try read(try uint(1)), as: UTF8.self)))   // SHORT_BINUNICODE
            case 0x55: stack.append(.string(String(decoding: try read(try uint(1)), as: UTF8.self)))   // SHORT_BINSTRING
            case 0x54: stack.append(.string(String(decoding: try read(try uint(4)), as: UTF8.self)))   // BINSTRING
            case 0x43: stack.append(.bytes(Array(try read(try uint(1)))))        // SHORT_BINBYTES
            case 0x42: stack.append(.bytes(Array(try read(try uint(4)))))        // BINBYTES
            case 0x71: memo[try uint(1)] = stack.last                            // BINPUT
            case 0x72: memo[try uint(4)] = stack.last                            // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last                             // MEMOIZE
            case 0x68, 0x6A:                                                     // BINGET, LONG_BINGET
                let k = try uint(op == 0x68 ? 1 : 4)
                guard let v = memo[k] else { throw fail("memo \(k) missing") }
                stack.append(v)
            case 0x74: stack.append(.tuple(try popToMark()))                     // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))
            case 0x63:                                                           // GLOBAL
                let module = try line(), name = try line()
                stack.append(try global("\(module).\(name)"))
            case 0x93:                                                           // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else { throw fail("bad STACK_GLOBAL") }
                stack.append(try global("\(module).\(name)"))
            case 0x51:                                                           // BINPERSID
                guard case .tuple(let t) = try pop(), t.count >= 5, case .string("storage") = t[0],
                      case .global(let type) = t[1], case .string(let key) = t[2], case .int(let count) = t[4] else {
                    throw fail("unsupported persistent id")
                }
                stack.append(.storage(type: type, key: key, count: count))
            case 0x52, 0x81:                                                     // REDUCE, NEWOBJ
                let args = try pop(), callable = try pop()
                stack.append(try reduce(callable, args))
            case 0x62: _ = try pop()                                             // BUILD: state is not needed
            case 0x73:                                                           // SETITEM
                let v = try pop(), k = try pop()
                guard case .dict(var d) = try pop() else { throw fail("SETITEM on a non-dict") }
                d.append((k, v))
                stack.append(.dict(d))
            case 0x75:                                                           // SETITEMS
                let items = try popToMark()
                guard case .dict(var d) = try pop() else { throw fail("SETITEMS on a non-dict") }
                var i = 0
                while i + 1 < items.count { d.append((items[i], items[i + 1])); i += 2 }
                stack.append(.dict(d))
            case 0x61:                                                           // APPEND
                let v = try pop()
                guard case .list(var l) = try pop() else { throw fail("APPEND on a non-list") }
                l.append(v)
                stack.append(.list(l))
            case 0x65:                                                           // APPENDS
                let items = try popToMark()
                guard case .list(var l) = try pop() else { throw fail("APPENDS on a non-list") }
                l += items
                stack.append(.list(l))
            default:
                throw fail(String(format: "unsupported pickle opcode 0x%02x at byte %d", op, pos - 1))
            }
        }
    }

    func reduce(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case .global(let name) = callable, case .tuple(let a) = args else { throw fail("REDUCE of a non-global") }
        switch name {
        case "collections.OrderedDict": return .dict([])
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            guard a.count >= 4, case .storage(let type, let key, _) = a[0], case .int(let offset) = a[1],
                  case .tuple(let size) = a[2], case .tuple(let stride) = a[3] else { throw fail("bad tensor record") }
            let ints: ([PickleValue]) throws -> [Int] = { try $0.map { v in guard case .int(let i) = v else { throw fail("bad tensor shape") }; return i } }
            return .tensor(TensorRecord(storageType: type, storageKey: key, offset: offset, shape: try ints(size), stride: try ints(stride)))
        case "torch._utils._rebuild_parameter":
            guard let first = a.first else { throw fail("bad parameter record") }
            return first
        default:
            return .opaque(name)
        }
    }
}
