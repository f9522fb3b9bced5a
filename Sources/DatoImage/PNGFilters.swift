/// PNG's per-row filters (none, sub, up, average, Paeth), undone in place.
enum PNGFilters {
    /// Reconstructs every row of `raw` (each a filter-type byte and `width * channels` samples) in place.
    static func unfilter(_ raw: inout [UInt8], header h: PNGHeader, fail: (String) -> PNGWriter.Error) throws {
        let stride = h.rowBytes, bpp = h.channels, n = stride - 1
        try raw.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for y in 0..<h.height {
                let row = base + y * stride + 1
                let up: UnsafeMutablePointer<UInt8>? = y > 0 ? row - stride : nil
                let filter = row[-1]
                switch filter {
                case 0: break
                case 1:
                    for x in bpp..<max(bpp, n) { row[x] &+= row[x - bpp] }
                case 2:
                    guard let up else { break }
                    for x in 0..<n { row[x] &+= up[x] }
                case 3:
                    for x in 0..<n {
                        let a = x >= bpp ? Int(row[x - bpp]) : 0, b = up.map { Int($0[x]) } ?? 0
                        row[x] &+= UInt8((a + b) >> 1)
                    }
                case 4:
                    for x in 0..<n {
                        let a = x >= bpp ? Int(row[x - bpp]) : 0, b = up.map { Int($0[x]) } ?? 0
                        let c = x >= bpp ? (up.map { Int($0[x - bpp]) } ?? 0) : 0
                        row[x] &+= UInt8(paeth(a, b, c))
                    }
                default:
                    throw fail("row \(y) has filter type \(filter) (PNG defines 0 to 4)")
                }
            }
        }
    }

    /// The Paeth predictor: whichever of left, up and upper-left is nearest to left + up - upper-left.
    @inline(__always) static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
        return pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
    }
}
