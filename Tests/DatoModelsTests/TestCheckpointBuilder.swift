import Foundation

/// Writes ZIP archives of stored members the way `torch.save` does, optionally with zip64 records, and
/// with chosen lies in them (counts, offsets, sizes) for tests of the reader.
struct TestZip {
    var files: [(name: String, data: [UInt8])]
    /// Writes zip64 records: sizes and offsets in extra fields, a zip64 end record and locator.
    var zip64 = false
    /// Lies written into the zip64 records (nil: the truth).
    var entryCount: UInt64? = nil, directoryOffset: UInt64? = nil, directorySize: UInt64? = nil
    var endRecordOffset: UInt64? = nil, firstMemberSize: UInt64? = nil, firstMemberOffset: UInt64? = nil

    var bytes: [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        for (i, file) in files.enumerated() {
            let offset = out.count
            let name = Array(file.name.utf8)
            out += u32(0x0403_4b50) + u16(20) + u16(0) + u16(0) + u16(0) + u16(0) + u32(0)
            out += u32(file.data.count) + u32(file.data.count) + u16(name.count) + u16(0) + name + file.data
            let size = i == 0 ? (firstMemberSize ?? UInt64(file.data.count)) : UInt64(file.data.count)
            let at = i == 0 ? (firstMemberOffset ?? UInt64(offset)) : UInt64(offset)
            let extra = zip64 ? u16(1) + u16(24) + u64(size) + u64(size) + u64(at) : []
            let (s32, o32) = zip64 ? (0xFFFF_FFFF, 0xFFFF_FFFF) : (Int(size), Int(at))
            central += u32(0x0201_4b50) + u16(45) + u16(45) + u16(0) + u16(0) + u16(0) + u16(0) + u32(0)
            central += u32(s32) + u32(s32) + u16(name.count) + u16(extra.count) + u16(0) + u16(0) + u16(0) + u32(0) + u32(o32)
            central += name + extra
        }
        let cdOffset = out.count
        out += central
        if zip64 {
            let z64 = out.count
            out += u32(0x0606_4b50) + u64(44) + u16(45) + u16(45) + u32(0) + u32(0)
            out += u64(entryCount ?? UInt64(files.count)) + u64(entryCount ?? UInt64(files.count))
            out += u64(directorySize ?? UInt64(central.count)) + u64(directoryOffset ?? UInt64(cdOffset))
            out += u32(0x0706_4b50) + u32(0) + u64(endRecordOffset ?? UInt64(z64)) + u32(1)
            out += u32(0x0605_4b50) + u16(0) + u16(0) + u16(0xFFFF) + u16(0xFFFF) + u32(0xFFFF_FFFF) + u32(0xFFFF_FFFF) + u16(0)
        } else {
            out += u32(0x0605_4b50) + u16(0) + u16(0) + u16(files.count) + u16(files.count) + u32(central.count) + u32(cdOffset) + u16(0)
        }
        return out
    }

    func u16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
    func u32(_ v: Int) -> [UInt8] { u16(v & 0xFFFF) + u16(v >> 16 & 0xFFFF) }
    func u64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}

/// Writes pickles opcode by opcode, with helpers for what a PyTorch state dict holds.
struct TestPickle {
    var bytes: [UInt8] = [0x80, 2]   // PROTO 2

    mutating func op(_ codes: UInt8...) { bytes += codes }
    mutating func string(_ s: String) { bytes += [0x8C, UInt8(s.utf8.count)] + Array(s.utf8) }
    mutating func global(_ module: String, _ name: String) { bytes += [0x63] + Array("\(module)\n\(name)\n".utf8) }

    /// An integer: BININT1, BININT or an 8-byte LONG1.
    mutating func int(_ v: Int) {
        if (0...255).contains(v) {
            bytes += [0x4B, UInt8(v)]
        } else if let small = Int32(exactly: v) {
            bytes += [0x4A] + (0..<4).map { UInt8(truncatingIfNeeded: small >> (8 * $0)) }
        } else {
            bytes += [0x8A, 8] + (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
        }
    }

    mutating func tuple(_ ints: [Int]) {
        op(0x28)
        for i in ints { int(i) }
        op(0x74)
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
    mutating func tensor(storage key: String, type: String = "FloatStorage", elements: Int,
                         offset: Int, shape: [Int], stride: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        op(0x28)                                     // MARK: the arguments
        op(0x28); string("storage"); global("torch", type); string(key); string("cpu"); int(elements); op(0x74)
        op(0x51)                                     // BINPERSID
        int(offset)
        tuple(shape)
        tuple(stride)
        op(0x89)                                     // requires_grad False
        global("collections", "OrderedDict"); op(0x29, 0x52)
        op(0x74, 0x52)                               // TUPLE, REDUCE
    }

    /// A state dict `{name: tensor}` as `torch.save` writes it.
    static func stateDict(_ tensors: [(name: String, key: String, elements: Int, offset: Int, shape: [Int], stride: [Int])]) -> [UInt8] {
        var p = TestPickle()
        p.op(0x7D, 0x71, 0, 0x28)                    // EMPTY_DICT, BINPUT 0, MARK
        for t in tensors {
            p.string(t.name)
            p.tensor(storage: t.key, elements: t.elements, offset: t.offset, shape: t.shape, stride: t.stride)
        }
        p.op(0x75, 0x2E)                             // SETITEMS, STOP
        return p.bytes
    }
}

/// A `.ckpt` (zip of `archive/data.pkl` and `archive/data/<key>`) holding float storages.
func testCheckpoint(pickle: [UInt8], storages: [String: [Float]], zip: (inout TestZip) -> Void = { _ in }) -> [UInt8] {
    var files: [(name: String, data: [UInt8])] = [("archive/data.pkl", pickle)]
    for (key, values) in storages.sorted(by: { $0.key < $1.key }) {
        files.append(("archive/data/\(key)", values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }))
    }
    var z = TestZip(files: files)
    zip(&z)
    return z.bytes
}
