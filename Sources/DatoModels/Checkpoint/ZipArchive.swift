import Foundation

/// A minimal read-only ZIP reader (stored entries, and zip64 sizes/offsets), enough for PyTorch's
/// `torch.save` archives, which store their members uncompressed.
struct ZipArchive {
    struct Entry {
        let name: String
        let method: UInt16
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
    }

    let path: String
    let data: Data
    let entries: [String: Entry]

    init(path: String) throws {
        self.path = path
        guard let d = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else { throw CheckpointError(path, "cannot read the file") }
        data = d
        func u16(_ o: Int) -> Int { Int(d[o]) | Int(d[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) -> Int { u32(o) | u32(o + 4) << 32 }
        // End of central directory: scan back over a possible comment.
        guard d.count >= 22 else { throw CheckpointError(path, "too short to be a zip archive") }
        var eocd = -1
        var o = d.count - 22
        while o >= max(0, d.count - 22 - 65535) {
            if u32(o) == 0x0605_4b50 { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw CheckpointError(path, "not a zip archive (no end-of-central-directory record)") }
        var count = u16(eocd + 10), cdOffset = u32(eocd + 16)
        if (count == 0xFFFF || cdOffset == 0xFFFF_FFFF), eocd >= 20, u32(eocd - 20) == 0x0706_4b50 {
            let z64 = u64(eocd - 20 + 8)
            guard z64 + 56 <= d.count, u32(z64) == 0x0606_4b50 else { throw CheckpointError(path, "broken zip64 directory") }
            count = u64(z64 + 32)
            cdOffset = u64(z64 + 48)
        }
        var entries: [String: Entry] = [:]
        var p = cdOffset
        for _ in 0..<count {
            guard p + 46 <= d.count, u32(p) == 0x0201_4b50 else { throw CheckpointError(path, "corrupt zip central directory") }
            let method = UInt16(u16(p + 10))
            var csize = u32(p + 20), size = u32(p + 24)
            let nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32)
            var offset = u32(p + 42)
            guard p + 46 + nameLen + extraLen <= d.count else { throw CheckpointError(path, "corrupt zip entry") }
            let name = String(decoding: d[(p + 46)..<(p + 46 + nameLen)], as: UTF8.self)
            // zip64 extra field: sizes and offset that overflowed 32 bits, in this order.
            var e = p + 46 + nameLen
            let end = e + extraLen
            while e + 4 <= end {
                let id = u16(e), len = u16(e + 2)
                if id == 0x0001 {
                    var q = e + 4
                    if size == 0xFFFF_FFFF { size = u64(q); q += 8 }
                    if csize == 0xFFFF_FFFF { csize = u64(q); q += 8 }
                    if offset == 0xFFFF_FFFF { offset = u64(q) }
                }
                e += 4 + len
            }
            entries[name] = Entry(name: name, method: method, compressedSize: csize, size: size, localHeaderOffset: offset)
            p += 46 + nameLen + extraLen + commentLen
        }
        self.entries = entries
    }

    /// The byte range of a stored member's data.
    func range(of entry: Entry) throws -> Range<Int> {
        let o = entry.localHeaderOffset
        guard o + 30 <= data.count, data[o] == 0x50, data[o + 1] == 0x4b, data[o + 2] == 3, data[o + 3] == 4 else {
            throw CheckpointError(path, "corrupt local header for '\(entry.name)'")
        }
        guard entry.method == 0 else { throw CheckpointError(path, "'\(entry.name)' is compressed (method \(entry.method)); PyTorch archives store members uncompressed") }
        let nameLen = Int(data[o + 26]) | Int(data[o + 27]) << 8, extraLen = Int(data[o + 28]) | Int(data[o + 29]) << 8
        let start = o + 30 + nameLen + extraLen
        guard start + entry.size <= data.count else { throw CheckpointError(path, "'\(entry.name)' runs past the end of the file (truncated?)") }
        return start..<(start + entry.size)
    }
}

/// A problem with a `.ckpt` file, naming the file.
public struct CheckpointError: Error, CustomStringConvertible {
    public let description: String
    init(_ path: String, _ message: String) { description = "\(path): \(message)" }
}
