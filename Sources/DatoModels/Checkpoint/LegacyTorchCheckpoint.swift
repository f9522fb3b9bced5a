import DatoCore
import Foundation

/// A `torch.save` file in the format PyTorch wrote before 1.6 (and still writes with
/// `_use_new_zipfile_serialization=False`), read without executing anything. The file is a sequence of
/// pickles -- the magic number, the protocol version (1001), a system-info dict, the object itself (whose
/// storages are persistent ids), the list of storage keys -- followed by every storage of that list in its
/// order, each as an 8-byte little-endian element count and then its bytes.
///
/// Every count is checked against the storage's persistent id and the bytes left in the file, and every
/// tensor view against its storage, before any tensor is allocated.
public final class LegacyTorchCheckpoint: CheckpointContents {
    public let path: String
    public let shapes: [String: [Int]]
    private let records: [String: TensorRecord]
    /// Each storage's bytes in the file, by key.
    private let storages: [String: Range<Int>]
    private let data: Data
    /// The training step the checkpoint records (`global_step`), if any.
    public let globalStep: Int?

    /// The magic number `torch.save` pickles first: 0x1950a86a20f9469cfc6c, a 10-byte LONG1.
    static let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    /// The legacy format's protocol version.
    static let protocolVersion = 1001

    /// Opens `path` (a regular file; it is mapped, not copied).
    public init(path: String) throws {
        self.path = path
        let data: Data
        do {
            data = try RegularFile.map(path)
        } catch let e as RegularFileError {
            throw CheckpointError(path, e.reason)
        }
        self.data = data
        var pos = try Self.afterMagic(data, path: path)
        func next(_ label: String) throws -> (PickleValue, [String: (type: String, count: Int)]) {
            var u = Unpickler(data: data, range: pos..<data.count, file: path, label: "legacy torch.save \(label) pickle")
            let value = try u.run()
            pos = u.pos
            return (value, u.storages)
        }
        guard case (.int(Self.protocolVersion), _) = try next("protocol version") else {
            throw CheckpointError(path, "not a legacy torch.save file (the protocol version is not \(Self.protocolVersion))")
        }
        try Self.checkSystemInfo(try next("system info").0, path: path)
        let (object, referenced) = try next("object")
        let records = try TorchStorage.stateDict(object, path: path)
        let keys = try Self.storageKeys(try next("storage key list").0, path: path)
        let storages = try Self.storageRanges(keys: keys, referenced: referenced, data: data, start: pos, path: path)
        for (name, r) in records {
            guard let range = storages[r.storageKey] else {
                throw CheckpointError(path, "tensor '\(name)': storage \(r.storageKey) is not in the file's storage list")
            }
            try TorchStorage.checkView(r, storageBytes: range.count, name: name, path: path)
        }
        self.records = records
        self.storages = storages
        globalStep = TorchStorage.globalStep(object)
        shapes = records.mapValues(\.shape)
    }

    /// The byte after the magic-number pickle (PROTO, an optional FRAME, LONG1 of the magic, STOP).
    static func afterMagic(_ data: Data, path: String) throws -> Int {
        let expected: [UInt8] = [0x8A, 0x0A] + magic + [0x2E]
        var start = 2
        guard data.count >= 2, data[0] == 0x80 else { throw CheckpointError(path, "not a torch.save file (no pickle at the start)") }
        if data.count > 2, data[2] == 0x95 { start = 11 }   // FRAME and its 8-byte length (protocol 4 and later)
        guard data.count >= start + expected.count, Array(data[start..<(start + expected.count)]) == expected else {
            throw CheckpointError(path, "not a torch.save file (the first pickle is not PyTorch's magic number)")
        }
        return start + expected.count
    }

    /// The system-info dict must describe a little-endian writer (the storages are raw machine bytes).
    static func checkSystemInfo(_ info: PickleValue, path: String) throws {
        guard case .dict(let items) = info else { throw CheckpointError(path, "the legacy system-info pickle is not a dictionary") }
        for (k, v) in items {
            if case .string("little_endian") = k, case .bool(false) = v {
                throw CheckpointError(path, "written on a big-endian machine; only little-endian legacy files are supported")
            }
        }
    }

    /// The storage-key list: strings, each at most once.
    static func storageKeys(_ value: PickleValue, path: String) throws -> [String] {
        guard case .list(let items) = value else { throw CheckpointError(path, "the legacy storage key list is not a list") }
        var keys: [String] = [], seen: Set<String> = []
        for item in items {
            guard case .string(let key) = item else { throw CheckpointError(path, "the legacy storage key list holds a non-string") }
            guard seen.insert(key).inserted else { throw CheckpointError(path, "storage \(key) is listed twice") }
            keys.append(key)
        }
        return keys
    }

    /// Walks the storages after the pickles: each key's 8-byte element count must equal the count in its
    /// persistent id, and its bytes must lie inside the file.
    static func storageRanges(keys: [String], referenced: [String: (type: String, count: Int)], data: Data,
                              start: Int, path: String) throws -> [String: Range<Int>] {
        var ranges: [String: Range<Int>] = [:]
        var pos = start
        for key in keys {
            func bad(_ m: String) -> CheckpointError { CheckpointError(path, "storage \(key) (at byte \(pos)): \(m)") }
            guard let (type, declared) = referenced[key] else { throw bad("listed but never referenced by a tensor") }
            guard let size = TorchStorage.elementSize(type) else {
                throw bad("unsupported storage type \(type) (a legacy file's storages follow each other, so every one must be sized to find the next)")
            }
            guard data.count - pos >= 8 else { throw bad("truncated file: no element count (the file ends at byte \(data.count))") }
            let raw = data[pos..<(pos + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard let count = Int(exactly: raw), count == declared else {
                throw bad("the file says \(raw) elements but the pickle says \(declared)")
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, bytes <= data.count - pos - 8 else {
                throw bad("truncated file: \(count) x \(type) needs \(count)*\(size) bytes but only \(data.count - pos - 8) are left")
            }
            ranges[key] = (pos + 8)..<(pos + 8 + bytes)
            pos += 8 + bytes
        }
        return ranges
    }

    public func tensor(_ name: String) throws -> Tensor { try read(name, rows: nil) }

    /// Rows `rows` of a tensor (along its first dimension), read without the rest.
    public func tensor(_ name: String, rows: Range<Int>) throws -> Tensor { try read(name, rows: rows) }

    private func read(_ name: String, rows: Range<Int>?) throws -> Tensor {
        guard var r = records[name], let range = storages[r.storageKey] else { throw CheckpointError(path, "no tensor '\(name)'") }
        guard TorchStorage.isFloatingPoint(r.storageType) else {
            throw CheckpointError(path, "tensor '\(name)' is \(r.storageType), not floating point")
        }
        if let rows { r = try TorchStorage.rows(rows, of: r, name: name, path: path) }
        return TorchStorage.decode(r, data: data, storage: range)
    }
}

/// Opens a `torch.save` file in either format: a zip archive (PyTorch 1.6 and later) or the legacy format.
func openTorchCheckpoint(_ path: String) throws -> CheckpointContents {
    let head: Data
    do {
        head = try RegularFile.map(path).prefix(2)   // mapped, so only the first page is read here
    } catch let e as RegularFileError {
        throw CheckpointError(path, e.reason)
    }
    if head.starts(with: [0x50, 0x4B]) { return try PickleCheckpoint(path: path) }                   // "PK"
    if head.first == 0x80 { return try LegacyTorchCheckpoint(path: path) }                            // PROTO
    throw CheckpointError(path, "neither a PyTorch zip archive nor a legacy torch.save file")
}
