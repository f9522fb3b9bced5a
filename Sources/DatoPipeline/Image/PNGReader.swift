import CZlib
import Foundation

/// Reads 8-bit, non-interlaced RGB / RGBA / grey PNG files (as this package and most tools write them) into
/// RGB bytes, with their text chunks.
public enum PNGReader {
    public struct Image {
        public let width: Int, height: Int
        /// RGB bytes, row-major, height x width x 3.
        public let pixels: [UInt8]
        /// tEXt / iTXt chunks by keyword (e.g. AUTOMATIC1111's "parameters").
        public let text: [String: String]
    }

    public static func read(path: String) throws -> Image {
        guard let data = FileManager.default.contents(atPath: path) else { throw PNGWriter.Error(description: "cannot read '\(path)'") }
        func fail(_ m: String) -> PNGWriter.Error { PNGWriter.Error(description: "\(path): \(m)") }
        let b = [UInt8](data)
        guard b.count > 8, Array(b[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else { throw fail("not a PNG file") }
        func u32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        var i = 8, width = 0, height = 0, channels = 0
        var idat = [UInt8](), text: [String: String] = [:]
        while i + 8 <= b.count {
            let length = u32(i), type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
            guard i + 12 + length <= b.count else { throw fail("chunk '\(type)' runs past the end (truncated file)") }
            let body = Array(b[(i + 8)..<(i + 8 + length)])
            switch type {
            case "IHDR":
                guard length == 13 else { throw fail("bad IHDR") }
                width = u32(i + 8); height = u32(i + 12)
                guard body[8] == 8, body[12] == 0 else { throw fail("only 8-bit non-interlaced images are read") }
                switch body[9] { case 0: channels = 1; case 2: channels = 3; case 6: channels = 4
                default: throw fail("colour type \(body[9]) is not read (grey, RGB or RGBA)") }
            case "IDAT": idat += body
            case "tEXt", "iTXt":
                if let z = body.firstIndex(of: 0) {
                    let key = String(decoding: body[..<z], as: UTF8.self)
                    var rest = Array(body[(z + 1)...])
                    if type == "iTXt" {   // compression flag, method, language tag\0, translated keyword\0
                        rest = Array(rest.dropFirst(2))
                        for _ in 0..<2 { if let n = rest.firstIndex(of: 0) { rest = Array(rest[(n + 1)...]) } }
                        text[key] = String(decoding: rest, as: UTF8.self)
                    } else {
                        text[key] = String(rest.map { Character(Unicode.Scalar($0)) })
                    }
                }
            case "IEND": i = b.count
            default: break
            }
            i += 12 + length
        }
        guard width > 0, height > 0, channels > 0 else { throw fail("no image header") }
        let stride = width * channels
        var raw = [UInt8](repeating: 0, count: height * (stride + 1))
        var size = uLongf(raw.count)
        guard uncompress(&raw, &size, idat, uLong(idat.count)) == Z_OK, Int(size) == raw.count else { throw fail("corrupt image data") }
        var out = [UInt8](repeating: 0, count: height * stride)
        for y in 0..<height {
            let f = raw[y * (stride + 1)], row = y * (stride + 1) + 1
            for x in 0..<stride {
                let a = x >= channels ? Int(out[y * stride + x - channels]) : 0
                let up = y > 0 ? Int(out[(y - 1) * stride + x]) : 0
                let c = y > 0 && x >= channels ? Int(out[(y - 1) * stride + x - channels]) : 0
                let v = Int(raw[row + x])
                let predicted: Int
                switch f {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = up
                case 3: predicted = (a + up) / 2
                case 4:
                    let p = a + up - c, pa = abs(p - a), pb = abs(p - up), pc = abs(p - c)
                    predicted = pa <= pb && pa <= pc ? a : (pb <= pc ? up : c)
                default: throw fail("bad filter type \(f)")
                }
                out[y * stride + x] = UInt8((v + predicted) & 0xFF)
            }
        }
        let rgb: [UInt8] = channels == 3 ? out : (0..<(width * height)).flatMap { p -> [UInt8] in
            channels == 1 ? [out[p], out[p], out[p]] : [out[p * 4], out[p * 4 + 1], out[p * 4 + 2]]
        }
        return Image(width: width, height: height, pixels: rgb, text: text)
    }
}
