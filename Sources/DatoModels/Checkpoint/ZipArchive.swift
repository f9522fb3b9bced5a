import DatoCore
import Foundation

/// A minimal read-only ZIP reader (stored entries, and zip64 sizes/offsets), enough for PyTorch's
/// `torch.save` archives, which store their members uncompressed.
///
/// Every count, offset and size read from the archive is checked before use: a 64-bit value must fit in
/// `Int`, every record must lie inside the file, and the entry count must fit in the central directory,
/// so a corrupt or hostile archive gives an error naming the file, never a trap or a huge allocation.
struct ZipArchive {
    struct Entry {
        let name: String
        let method: UInt16
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
    }

    /// Bytes of a central directory record before its variable-length fields.
    static let centralRecordSize = 46
    /// Bytes of a local file header before its variable-length fields.
    static let localHeaderSize = 30

    let path: String
    let data: Data
    let entries: [String: Entry]

    /// Reads the archive at `path` (which must be a regular file; it is mapped, not copied).
    init(path: String) throws {
        let mapped: Data
        do {
            mapped = try RegularFile.map(path)
        } catch let e as RegularFileError {
            throw CheckpointError(path, e.reason)
        }
        try self.init(data: mapped, path: path)
    }

    /// Reads an archive held in memory; `path` names it in errors.
    init(data: Data, path: String) throws {
        self.path = path
        self.data = data.startIndex == 0 ? data : Data(data)
        let bytes = ZipBytes(data: self.data, path: path)
        let directory = try Self.centralDirectory(bytes)
        var entries: [String: Entry] = [:]
        var p = directory.offset
        for _ in 0..<directory.count {
            let (entry, next) = try Self.centralRecord(at: p, bytes, directoryEnd: directory.end)
            guard entries[entry.name] == nil else { throw CheckpointError(path, "zip entry '\(entry.name)' appears twice") }
            entries[entry.name] = entry
            p = next
        }
        self.entries = entries
    }

    /// Where the central directory is and how many entries it holds (from the end records, zip64 if present).
    static func centralDirectory(_ b: ZipBytes) throws -> (offset: Int, end: Int, count: Int) {
        let eocd = try endRecord(b)
        var count = try b.u16(eocd + 10), size = try b.u32(eocd + 12), offset = try b.u32(eocd + 16)
        if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF, eocd >= 20, try b.u32(eocd - 20) == 0x0706_4b50 {
            let z64 = try b.int64(eocd - 20 + 8, "zip64 end record offset")
            guard try b.u32(z64) == 0x0606_4b50 else { throw b.fail("broken zip64 directory (no zip64 end record at \(z64))") }
            count = try b.int64(z64 + 32, "zip64 entry count")
            size = try b.int64(z64 + 40, "zip64 central directory size")
            offset = try b.int64(z64 + 48, "zip64 central directory offset")
        }
        let end = try b.span(offset, size, "the central directory")
        guard count <= size / centralRecordSize else {
            throw b.fail("the central directory claims \(count) entries but its \(size) bytes hold at most \(size / centralRecordSize)")
        }
        return (offset, end, count)
    }

    /// The end-of-central-directory record: scanned back from the end over a possible comment.
    static func endRecord(_ b: ZipBytes) throws -> Int {
        let n = b.data.count
        guard n >= 22 else { throw b.fail("too short to be a zip archive") }
        var o = n - 22
        while o >= max(0, n - 22 - 65535) {
            if try b.u32(o) == 0x0605_4b50 { return o }
            o -= 1
        }
        throw b.fail("not a zip archive (no end-of-central-directory record)")
    }

    /// One central directory record at `p` and the offset of the next.
    static func centralRecord(at p: Int, _ b: ZipBytes, directoryEnd: Int) throws -> (Entry, Int) {
        guard try b.u32(p) == 0x0201_4b50 else { throw b.fail("corrupt zip central directory at byte \(p)") }
        let method = UInt16(try b.u16(p + 10))
        var csize = try b.u32(p + 20), size = try b.u32(p + 24)
        let nameLen = try b.u16(p + 28), extraLen = try b.u16(p + 30), commentLen = try b.u16(p + 32)
        var offset = try b.u32(p + 42)
        let nameStart = p + centralRecordSize
        let extraStart = try b.span(nameStart, nameLen, "a zip entry name")
        let next = try b.span(extraStart, extraLen + commentLen, "a zip entry's extra field")
        guard next <= directoryEnd else { throw b.fail("a zip entry at byte \(p) runs past the central directory") }
        let name = String(decoding: b.data[nameStart..<extraStart], as: UTF8.self)
        // zip64 extra field: the sizes and offset that overflowed 32 bits, in this order.
        var e = extraStart
        let end = extraStart + extraLen
        while e + 4 <= end {
            let id = try b.u16(e), len = try b.u16(e + 2)
            let fieldEnd = e + 4 + len
            guard fieldEnd <= end else { throw b.fail("zip entry '\(name)': extra field runs past its record") }
            if id == 0x0001 {
                var q = e + 4
                func next64(_ what: String) throws -> Int {
                    guard q + 8 <= fieldEnd else { throw b.fail("zip entry '\(name)': zip64 field too short for its \(what)") }
                    defer { q += 8 }
                    return try b.int64(q, "zip entry '\(name)' \(what)")
                }
                if size == 0xFFFF_FFFF { size = try next64("size") }
                if csize == 0xFFFF_FFFF { csize = try next64("compressed size") }
                if offset == 0xFFFF_FFFF { offset = try next64("offset") }
            }
            e = fieldEnd
        }
        return (Entry(name: name, method: method, compressedSize: csize, size: size, localHeaderOffset: offset), next)
    }

    /// The byte range of a stored member's data, checked to lie inside the file.
    func range(of entry: Entry) throws -> Range<Int> {
        let b = ZipBytes(data: data, path: path)
        let o = entry.localHeaderOffset
        guard try b.u32(o) == 0x0403_4b50 else {
            throw CheckpointError(path, "corrupt local header for '\(entry.name)'")
        }
        guard entry.method == 0 else { throw CheckpointError(path, "'\(entry.name)' is compressed (method \(entry.method)); PyTorch archives store members uncompressed") }
        let nameLen = try b.u16(o + 26), extraLen = try b.u16(o + 28)
        let start = try b.span(o, Self.localHeaderSize + nameLen + extraLen, "the local header of '\(entry.name)'")
        guard entry.size <= data.count - start else {
            throw CheckpointError(path, "'\(entry.name)' (\(entry.size) bytes at byte \(start)) runs past the end of the \(data.count)-byte file (truncated?)")
        }
        return start..<(start + entry.size)
    }
}

/// Bounds-checked little-endian reads from an archive's bytes (which start at index 0).
struct ZipBytes {
    let data: Data
    let path: String

    func fail(_ message: String) -> CheckpointError { CheckpointError(path, message) }

    /// The end of `count` bytes at `offset`, which must lie inside the data.
    func span(_ offset: Int, _ count: Int, _ what: String) throws -> Int {
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard offset >= 0, count >= 0, !overflow, end <= data.count else {
            throw fail("\(what) (\(count) bytes at byte \(offset)) lies outside the \(data.count)-byte file")
        }
        return end
    }

    func bytes(_ offset: Int, _ n: Int) throws -> UInt64 {
        _ = try span(offset, n, "a zip record")
        var v: UInt64 = 0
        for i in (0..<n).reversed() { v = v << 8 | UInt64(data[offset + i]) }
        return v
    }

    func u16(_ offset: Int) throws -> Int { Int(try bytes(offset, 2)) }
    func u32(_ offset: Int) throws -> Int { Int(try bytes(offset, 4)) }

    /// A 64-bit field, which must fit in `Int` (offsets, sizes and counts beyond 2^63 are refused).
    func int64(_ offset: Int, _ what: String) throws -> Int {
        let v = try bytes(offset, 8)
        guard let i = Int(exactly: v) else { throw fail("\(what) \(v) is too large") }
        return i
    }
}

/// A problem with a `.ckpt` file, naming the file.
public struct CheckpointError: Error, CustomStringConvertible {
    public let description: String
    init(_ path: String, _ message: String) { description = "\(path): \(message)" }
}
