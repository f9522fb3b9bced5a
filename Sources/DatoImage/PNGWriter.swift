import CZlib
import DatoCore
import Foundation

/// Writes 8-bit RGB PNG files with text chunks (e.g. AUTOMATIC1111's `parameters`), atomically.
public enum PNGWriter {
    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
    }

    /// PNG bytes for `pixels` (height x width x 3) with `tEXt` chunks in the given order.
    public static func encode(pixels: [UInt8], width: Int, height: Int, text: [(String, String)] = []) throws -> Data {
        guard width > 0, height > 0, pixels.count == width * height * 3 else {
            throw Error(description: "PNG: \(pixels.count) bytes for a \(width)x\(height) RGB image")
        }
        var raw = [UInt8]()
        raw.reserveCapacity(height * (width * 3 + 1))
        for y in 0..<height {
            raw.append(0)   // filter type: none
            raw.append(contentsOf: pixels[(y * width * 3)..<((y + 1) * width * 3)])
        }
        var out = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var ihdr = Data()
        ihdr.append(bigEndian: UInt32(width))
        ihdr.append(bigEndian: UInt32(height))
        ihdr.append(contentsOf: [8, 2, 0, 0, 0])   // 8-bit, truecolour, deflate, no filter, no interlace
        chunk("IHDR", ihdr, into: &out)
        for (key, value) in text {
            // tEXt is Latin-1; use iTXt (UTF-8) when the value needs it.
            if let latin = value.data(using: .isoLatin1), let k = key.data(using: .isoLatin1) {
                chunk("tEXt", k + Data([0]) + latin, into: &out)
            } else {
                chunk("iTXt", Data(key.utf8) + Data([0, 0, 0, 0, 0]) + Data(value.utf8), into: &out)
            }
        }
        chunk("IDAT", try deflate(raw), into: &out)
        chunk("IEND", Data(), into: &out)
        return out
    }

    /// Writes the PNG to `path` through a temporary file and a rename (see `OutputFile` for the rules).
    public static func write(pixels: [UInt8], width: Int, height: Int, text: [(String, String)] = [], to path: String) throws {
        try OutputFile.write(try encode(pixels: pixels, width: width, height: height, text: text), to: path)
    }

    static func deflate(_ bytes: [UInt8]) throws -> Data {
        var size = compressBound(uLong(bytes.count))
        var buffer = [UInt8](repeating: 0, count: Int(size))
        let status = compress2(&buffer, &size, bytes, uLong(bytes.count), 6)
        guard status == Z_OK else { throw Error(description: "PNG: zlib compression failed (\(status))") }
        return Data(buffer[0..<Int(size)])
    }

    static func chunk(_ type: String, _ body: Data, into out: inout Data) {
        out.append(bigEndian: UInt32(body.count))
        let typed = Data(type.utf8) + body
        out.append(typed)
        let crc = typed.withUnsafeBytes { crc32(0, $0.bindMemory(to: Bytef.self).baseAddress, uInt(typed.count)) }
        out.append(bigEndian: UInt32(crc))
    }
}

extension Data {
    mutating func append(bigEndian v: UInt32) {
        Swift.withUnsafeBytes(of: v.bigEndian) { append(contentsOf: $0) }
    }
}
