import CZlib
import DatoImage
import Foundation
import XCTest

/// Hostile PNG files for `PNGReader` (as `dato score` reads them): lying headers, zlib bombs, bad chunk
/// lengths and CRCs, unsupported formats and special files each give one error naming the file, quickly and
/// without allocating what the header claims.
final class PNGHostileTests: XCTestCase {
    // MARK: building PNGs

    static func chunk(_ type: String, _ body: [UInt8], crc: UInt32? = nil) -> [UInt8] {
        let typed = Array(type.utf8) + body
        let sum = crc ?? typed.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        return be32(UInt32(body.count)) + typed + be32(sum)
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static func ihdr(_ w: UInt32, _ h: UInt32, depth: UInt8 = 8, colour: UInt8 = 2, interlace: UInt8 = 0) -> [UInt8] {
        chunk("IHDR", be32(w) + be32(h) + [depth, colour, 0, 0, interlace])
    }

    static func zlib(_ raw: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(compressBound(uLong(raw.count))))
        var size = uLongf(out.count)
        XCTAssertEqual(compress2(&out, &size, raw, uLong(raw.count), 9), Z_OK)
        return Array(out[0..<Int(size)])
    }

    static func png(_ chunks: [UInt8]...) -> [UInt8] {
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunks.flatMap { $0 } + chunk("IEND", [])
    }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("png-hostile-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Reading `bytes` from a file throws one error naming the file and containing `words`.
    func assertRefused(_ bytes: [UInt8], _ name: String, _ words: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try write(bytes, name)
        let started = Date()
        XCTAssertThrowsError(try PNGReader.read(path: path), file: file, line: line) { error in
            XCTAssertTrue("\(error)".hasPrefix(path), "\(error)", file: file, line: line)
            XCTAssertTrue("\(error)".contains(words), "\(error)", file: file, line: line)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "refused quickly", file: file, line: line)
    }

    // MARK: the failures of issue 20

    /// A 70-byte PNG claiming 100000x100000 (the original allocated 30 GB and aborted).
    func testHugeClaimedSize() throws {
        let bytes = Self.png(Self.ihdr(100_000, 100_000), Self.chunk("IDAT", Self.zlib([0, 0, 0, 0])))
        XCTAssertLessThan(bytes.count, 80)
        try assertRefused(bytes, "huge.png", "larger than this reader accepts")
    }

    /// 2^31 x 1 (the original allocated 6 GB).
    func testWideClaimedSize() throws {
        try assertRefused(Self.png(Self.ihdr(1 << 31, 1), Self.chunk("IDAT", Self.zlib([0, 0, 0, 0]))), "wide.png", "larger than")
        try assertRefused(Self.png(Self.ihdr(0, 5), Self.chunk("IDAT", Self.zlib([0]))), "empty.png", "is empty")
    }

    /// A header within the limits whose image data is far too short to hold it: refused before the buffer
    /// for the claimed size is allocated.
    func testHeaderLargerThanItsData() throws {
        try assertRefused(Self.png(Self.ihdr(8192, 8192, colour: 6), Self.chunk("IDAT", Self.zlib([0, 0, 0]))), "lying.png", "cannot hold")
    }

    /// A zlib bomb: a 64x64 header whose data inflates to 64 MiB. Decoding stops at the header's size.
    func testZlibBomb() throws {
        let bomb = Self.zlib([UInt8](repeating: 0, count: 64 << 20))
        try assertRefused(Self.png(Self.ihdr(64, 64), Self.chunk("IDAT", bomb)), "bomb.png", "inflates to more than the 12352 bytes")
    }

    /// Image data that stops short, or is not zlib at all.
    func testShortAndCorruptData() throws {
        let rows = [UInt8](repeating: 0, count: 4 * (1 + 4 * 3))
        try assertRefused(Self.png(Self.ihdr(4, 4), Self.chunk("IDAT", Self.zlib(Array(rows.dropLast(5))))), "short.png", "ends after 47 of the 52 bytes")
        try assertRefused(Self.png(Self.ihdr(4, 4), Self.chunk("IDAT", [1, 2, 3, 4, 5, 6, 7, 8])), "junk.png", "corrupt image data")
        try assertRefused(Self.png(Self.ihdr(4, 4)), "nodata.png", "no image data")
    }

    /// Chunk lengths past the end of the file, bad CRCs, missing or misplaced IHDR, no IEND.
    func testChunkStructure() throws {
        let good = Self.ihdr(1, 1) + Self.chunk("IDAT", Self.zlib([0, 1, 2, 3]))
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        try assertRefused(signature + Self.be32(0x7FFF_FFFF) + Array("IDAT".utf8) + [1, 2, 3], "length.png", "truncated")
        try assertRefused(signature + Self.be32(0xFFFF_FFFF) + Array("IDAT".utf8) + [UInt8](repeating: 0, count: 20), "length2.png", "claims 4294967295 bytes")
        try assertRefused(signature + Self.chunk("IHDR", Self.be32(1) + Self.be32(1) + [8, 2, 0, 0, 0], crc: 1) + Self.chunk("IEND", []), "crc.png", "CRC")
        try assertRefused(Self.png(Self.chunk("IDAT", Self.zlib([0, 1, 2, 3])), Self.ihdr(1, 1)), "order.png", "not IHDR")
        try assertRefused(Self.png(Self.ihdr(1, 1), good), "twice.png", "more than one IHDR")
        try assertRefused(signature + good, "noend.png", "no IEND")
        try assertRefused(Array(signature.prefix(6)), "tiny.png", "not a PNG")
        try assertRefused(Self.png(Self.ihdr(1, 1), Self.chunk("IHDR", [1, 2, 3])), "short-ihdr.png", "more than one IHDR")
        try assertRefused(signature + Self.chunk("IHDR", [1, 2, 3]) + Self.chunk("IEND", []), "ihdr13.png", "not 13")
    }

    /// Formats the reader does not handle are named, not mis-decoded.
    func testUnsupportedFormats() throws {
        let data = Self.chunk("IDAT", Self.zlib([0, 0]))
        try assertRefused(Self.png(Self.ihdr(1, 1, depth: 16), data), "deep.png", "bit depth 16")
        try assertRefused(Self.png(Self.ihdr(1, 1, colour: 3), data), "palette.png", "palette")
        try assertRefused(Self.png(Self.ihdr(1, 1, colour: 5), data), "colour.png", "colour type 5")
        try assertRefused(Self.png(Self.ihdr(1, 1, interlace: 1), data), "interlaced.png", "interlaced")
        try assertRefused(Self.png(Self.ihdr(1, 1), Self.chunk("IDAT", Self.zlib([7, 1, 2, 3]))), "filter.png", "filter type 7")
    }

    /// Only regular files are read: a FIFO (the original blocked forever) or a directory is refused at once.
    func testSpecialFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("png-hostile-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let fifo = dir.appendingPathComponent("fifo.png").path
        unlink(fifo)
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        for path in [fifo, dir.path] {
            XCTAssertThrowsError(try PNGReader.read(path: path)) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        }
    }

    // MARK: valid input still reads

    /// Grey + alpha and RGBA images with unfiltered rows read to the samples written (alpha dropped, grey
    /// repeated); a text chunk with a bad CRC is skipped, as libpng does.
    func testValidFormats() throws {
        let ga: [UInt8] = [0, 10, 255, 20, 128, 0, 30, 40, 7, 9]   // 2x2 grey + alpha, filter 0 rows
        let greyAlpha = try PNGReader.decode(Self.png(Self.ihdr(2, 2, colour: 4), Self.chunk("IDAT", Self.zlib(ga))), name: "ga")
        XCTAssertEqual(greyAlpha.pixels, [10, 10, 10, 20, 20, 20, 30, 30, 30, 7, 7, 7])
        let rgba: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8]   // 2x1
        let text = Self.chunk("tEXt", Array("parameters\u{0}a cat".utf8))
        let badText = Self.chunk("tEXt", Array("other\u{0}x".utf8), crc: 0)
        let image = try PNGReader.decode(Self.png(Self.ihdr(2, 1, colour: 6), text, badText, Self.chunk("IDAT", Self.zlib(rgba))), name: "rgba")
        XCTAssertEqual(image.pixels, [1, 2, 3, 5, 6, 7])
        XCTAssertEqual(image.text, ["parameters": "a cat"])
    }
}
