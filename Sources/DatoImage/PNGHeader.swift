/// A PNG's `IHDR` chunk, validated against what `PNGReader` reads and against size limits, so that nothing is
/// allocated for a header that lies about its size.
struct PNGHeader {
    /// The largest width or height read (as libpng's default user limit is 1,000,000, ours is far lower: the
    /// images this package scores are at most a few thousand pixels a side).
    static let maxSide = 16384
    /// The largest pixel count read (8192 x 8192).
    static let maxPixels = 1 << 26

    let width: Int, height: Int
    /// Bytes per pixel: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA (8-bit samples only).
    let channels: Int

    /// Bytes of one filtered row: the filter-type byte and the samples.
    var rowBytes: Int { 1 + width * channels }
    /// Bytes the image data must inflate to.
    var filteredBytes: Int { height * rowBytes }

    /// Parses the 13-byte chunk body; `fail` builds an error naming the file.
    init(_ body: ArraySlice<UInt8>, fail: (String) -> PNGWriter.Error) throws {
        guard body.count == 13 else { throw fail("IHDR is \(body.count) bytes, not 13") }
        let b = Array(body)
        let w = Int(b[0]) << 24 | Int(b[1]) << 16 | Int(b[2]) << 8 | Int(b[3])
        let h = Int(b[4]) << 24 | Int(b[5]) << 16 | Int(b[6]) << 8 | Int(b[7])
        guard w > 0, h > 0 else { throw fail("image size \(w)x\(h) is empty") }
        guard w <= Self.maxSide, h <= Self.maxSide, w * h <= Self.maxPixels else {
            throw fail("image size \(w)x\(h) is larger than this reader accepts (at most \(Self.maxSide) a side and \(Self.maxPixels) pixels)")
        }
        let depth = b[8], colour = b[9]
        guard depth == 8 else { throw fail("bit depth \(depth) is not read (8-bit samples only)") }
        switch colour {
        case 0: channels = 1
        case 2: channels = 3
        case 4: channels = 2
        case 6: channels = 4
        case 3: throw fail("palette images (colour type 3) are not read (grey, grey + alpha, RGB or RGBA only)")
        default: throw fail("colour type \(colour) is not a PNG colour type")
        }
        guard b[10] == 0 else { throw fail("compression method \(b[10]) is unknown (PNG defines only 0, deflate)") }
        guard b[11] == 0 else { throw fail("filter method \(b[11]) is unknown (PNG defines only 0)") }
        guard b[12] == 0 else { throw fail(b[12] == 1 ? "interlaced (Adam7) images are not read" : "interlace method \(b[12]) is unknown") }
        width = w; height = h
    }
}
