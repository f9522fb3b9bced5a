import CZlib
import DatoCore
import Foundation

/// Reads 8-bit, non-interlaced grey / grey + alpha / RGB / RGBA PNG files (as this package and most tools write
/// them) into RGB bytes, with their text chunks. Hostile files are refused with an error naming the file:
/// the header is checked against size limits, the image data must inflate to exactly the size the header
/// implies (never more is decoded), chunk lengths and CRCs are checked, and only regular files are read.
public enum PNGReader {
    public struct Image {
        public let width: Int, height: Int
        /// RGB bytes, row-major, height x width x 3.
        public let pixels: [UInt8]
        /// tEXt / iTXt chunks by keyword (e.g. AUTOMATIC1111's "parameters").
        public let text: [String: String]
    }

    /// The largest file read: more than the largest image the header limits allow, even stored uncompressed.
    static let maxFileBytes = 512 << 20
    /// Deflate's largest expansion is 1032:1; image data shorter than its size over this cannot be right.
    static let maxInflateRatio = 1032

    /// Reads the PNG file at `path` (a regular file, at most 512 MiB).
    public static func read(path: String) throws -> Image {
        let data: Data
        do {
            data = try RegularFile.read(path, limit: maxFileBytes)
        } catch let e as RegularFileError {
            throw PNGWriter.Error(description: e.description)
        }
        return try decode([UInt8](data), name: path)
    }

    /// Decodes PNG bytes; `name` (the file name) starts every error message.
    public static func decode(_ bytes: [UInt8], name: String) throws -> Image {
        func fail(_ m: String) -> PNGWriter.Error { PNGWriter.Error(description: "\(name): \(m)") }
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else { throw fail("not a PNG file") }
        var header: PNGHeader?
        var idat: [UInt8] = [], text: [String: String] = [:]
        try forEachChunk(bytes, fail: fail) { type, body in
            if header == nil && type != "IHDR" { throw fail("the first chunk is '\(type)', not IHDR") }
            switch type {
            case "IHDR":
                guard header == nil else { throw fail("more than one IHDR chunk") }
                header = try PNGHeader(body, fail: fail)
            case "IDAT": idat.append(contentsOf: body)
            case "tEXt", "iTXt":
                if let (key, value) = textChunk(type, body) { text[key] = value }
            default: break
            }
        }
        guard let header else { throw fail("no image header (IHDR)") }
        guard !idat.isEmpty else { throw fail("no image data (IDAT)") }
        let size = header.filteredBytes
        guard idat.count >= (size - 64) / maxInflateRatio else {
            throw fail("\(idat.count) bytes of image data cannot hold a \(header.width)x\(header.height) image")
        }
        var raw: [UInt8]
        do {
            raw = try BoundedInflate.inflate(idat, size: size)
        } catch let failure as BoundedInflate.Failure {
            switch failure {
            case .corrupt(let m): throw fail("corrupt image data (\(m))")
            case .short(let n): throw fail("image data ends after \(n) of the \(size) bytes a \(header.width)x\(header.height) image needs")
            case .long: throw fail("image data inflates to more than the \(size) bytes a \(header.width)x\(header.height) image needs")
            }
        }
        try PNGFilters.unfilter(&raw, header: header, fail: fail)
        return Image(width: header.width, height: header.height, pixels: rgb(raw, header: header), text: text)
    }

    /// Calls `body` with each chunk's type and data up to IEND, checking lengths against the bytes left and
    /// CRCs (an ancillary chunk with a bad CRC is skipped, as libpng does; a critical one is an error).
    static func forEachChunk(_ b: [UInt8], fail: (String) -> PNGWriter.Error,
                             _ body: (String, ArraySlice<UInt8>) throws -> Void) throws {
        func u32(_ i: Int) -> UInt32 {
            UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
        }
        var i = 8
        while i < b.count {
            guard b.count - i >= 12 else { throw fail("truncated chunk at byte \(i)") }
            let length = Int(u32(i))
            let type = String(decoding: b[(i + 4)..<(i + 8)], as: Unicode.ASCII.self)
            guard length <= Int(Int32.max), length <= b.count - i - 12 else {
                throw fail("chunk '\(type)' at byte \(i) claims \(length) bytes, more than the \(b.count - i - 12) left (truncated file)")
            }
            let data = b[(i + 8)..<(i + 8 + length)]
            let stored = u32(i + 8 + length)
            let computed = b[(i + 4)..<(i + 8 + length)].withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
            let critical = b[i + 4] & 0x20 == 0
            if stored != computed && critical { throw fail("chunk '\(type)' at byte \(i) fails its CRC check (corrupt file)") }
            if stored == computed { try body(type, data) }
            i += 12 + length
            if type == "IEND" { return }
        }
        throw fail("no IEND chunk (truncated file)")
    }

    /// A `tEXt` (Latin-1) or uncompressed `iTXt` (UTF-8) chunk's keyword and text.
    static func textChunk(_ type: String, _ body: ArraySlice<UInt8>) -> (String, String)? {
        guard let z = body.firstIndex(of: 0) else { return nil }
        let key = String(decoding: body[body.startIndex..<z], as: UTF8.self)
        var rest = body[(z + 1)...]
        if type == "tEXt" { return (key, String(rest.map { Character(Unicode.Scalar($0)) })) }
        // iTXt: compression flag, method, language tag \0, translated keyword \0, text.
        guard rest.count >= 2, rest.first == 0 else { return nil }   // compressed iTXt is not read
        rest = rest.dropFirst(2)
        for _ in 0..<2 {
            guard let n = rest.firstIndex(of: 0) else { return nil }
            rest = rest[(n + 1)...]
        }
        return (key, String(decoding: rest, as: UTF8.self))
    }

    /// RGB bytes from unfiltered rows (filter bytes still in place); alpha is dropped, grey repeated.
    static func rgb(_ raw: [UInt8], header h: PNGHeader) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: h.width * h.height * 3)
        let c = h.channels
        for y in 0..<h.height {
            let row = y * h.rowBytes + 1, dst = y * h.width * 3
            for x in 0..<h.width {
                let p = row + x * c, q = dst + x * 3
                if c >= 3 {
                    out[q] = raw[p]; out[q + 1] = raw[p + 1]; out[q + 2] = raw[p + 2]
                } else {
                    out[q] = raw[p]; out[q + 1] = raw[p]; out[q + 2] = raw[p]
                }
            }
        }
        return out
    }
}
