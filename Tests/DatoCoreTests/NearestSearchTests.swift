@testable import DatoCore
import XCTest

/// The nearest-row search against a double-precision search, on unit rows whose similarities crowd within a
/// few thousandths of each other: a search that trusted bf16 products alone would pick other rows.
final class NearestSearchTests: XCTestCase {
    /// `count` unit rows of width k: a shared direction plus `spread` times row noise, normalised.
    static func crowdedRows(_ count: Int, k: Int, seed: UInt64, spread: Float, sign: Float = 1) -> [Float] {
        let shared = Reference.random([k], seed: 1).array
        let noise = Reference.random([count, k], seed: seed).array
        var rows = [Float](repeating: 0, count: count * k)
        for i in 0..<count {
            var norm: Float = 0
            for c in 0..<k { rows[i * k + c] = sign * shared[c] + spread * noise[i * k + c]; norm += rows[i * k + c] * rows[i * k + c] }
            for c in 0..<k { rows[i * k + c] /= norm.squareRoot() }
        }
        return rows
    }

    /// All dot products of rows of x [m, k] with rows of y [n, k] in double precision, optionally of the
    /// bf16-rounded rows.
    static func products(_ x: [Float], _ m: Int, _ y: [Float], _ n: Int, _ k: Int, roundToBF16: Bool = false) -> [Double] {
        func value(_ v: Float) -> Double {
            guard roundToBF16 else { return Double(v) }
            let bits = v.bitPattern
            return Double(Float(bitPattern: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000))
        }
        let xd = x.map(value), yd = y.map(value)
        var out = [Double](repeating: 0, count: m * n)
        xd.withUnsafeBufferPointer { px in yd.withUnsafeBufferPointer { py in out.withUnsafeMutableBufferPointer { po in
            for i in 0..<m { for j in 0..<n {
                var s = 0.0
                for c in 0..<k { s += px[i * k + c] * py[j * k + c] }
                po[i * n + j] = s
            } }
        } } }
        return out
    }

    /// Runs the search under each (bf16 estimate, crowded fraction) setting and checks every row against the
    /// double-precision search.
    func checkSearch(_ a: [Float], _ m: Int, _ b: [Float], _ n: Int, _ k: Int, exact: [Double],
                     settings: [(Bool, Double)], file: StaticString = #filePath, line: UInt = #line) {
        for (estimate, crowded) in settings {
            var options = NearestSearch.Options()
            (options.bf16Estimate, options.crowdedFraction) = (estimate, crowded)
            let (index, similarity) = a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    NearestSearch.nearest(pa.baseAddress!, count: m, among: pb.baseAddress!, count: n, width: k,
                                          options: options)
                }
            }
            for i in 0..<m {
                let top = exact[(i * n)..<((i + 1) * n)].max()!, chosen = exact[i * n + index[i]]
                XCTAssertGreaterThanOrEqual(chosen, top - 1e-6, "row \(i), bf16 estimate \(estimate), crowded above \(crowded)",
                                            file: file, line: line)
                XCTAssertEqual(Double(similarity[i]), chosen, accuracy: 1e-6, "row \(i)", file: file, line: line)
            }
        }
    }

    func testMatchesDoublePrecisionSearch() {
        let k = 320, m = 200, n = 203   // neither a whole number of row blocks nor of padded columns
        let b = Self.crowdedRows(n, k: k, seed: 2, spread: 0.05)
        // Rows 0..<150 crowd around the shared direction; the rest point away from it (every similarity
        // negative, so a zero padding column must never win).
        let a = Self.crowdedRows(150, k: k, seed: 3, spread: 0.05) + Self.crowdedRows(50, k: k, seed: 4, spread: 0.05, sign: -1)
        let exact = Self.products(a, m, b, n, k), rounded = Self.products(a, m, b, n, k, roundToBF16: true)
        var bf16Misses = 0
        for i in 0..<m {
            let row = exact[(i * n)..<((i + 1) * n)], top = row.max()!
            let pick = (0..<n).max { rounded[i * n + $0] < rounded[i * n + $1] }!
            if row[i * n + pick] < top - 1e-6 { bf16Misses += 1 }
        }
        XCTAssertGreaterThan(bf16Misses, 20, "the rows must be crowded enough that bf16 products alone miss")
        // fp32 only; bf16 estimates refined per candidate; every block crowded (the whole search in fp32).
        checkSearch(a, m, b, n, k, exact: exact, settings: [(false, 0.25), (true, 1.0), (true, 0.0)])
        let empty = NearestSearch.nearest([Float](repeating: 0, count: k), count: 1, among: [], count: 0, width: k)
        XCTAssertEqual(empty.index, [0])
        XCTAssertEqual(empty.similarity, [-.infinity])
    }

    /// The default setting on rows whose first block is refined per candidate and whose later blocks crowd
    /// (recomputed as one fp32 product each).
    func testCrowdedBlocksAfterAPlainFirstBlock() {
        let k = 320, m = 96, n = 203
        // Directions without the shared component (spread 1000) and a cluster around it.
        let b = Self.crowdedRows(100, k: k, seed: 6, spread: 1000) + Self.crowdedRows(103, k: k, seed: 7, spread: 0.05)
        let a = Self.crowdedRows(32, k: k, seed: 8, spread: 1000) + Self.crowdedRows(64, k: k, seed: 9, spread: 0.05)
        let exact = Self.products(a, m, b, n, k), rounded = Self.products(a, m, b, n, k, roundToBF16: true)
        // The data does what it is meant to: candidates (within the margin of the best estimate, here the bf16
        // products) below a quarter of the first block and above it in the others.
        for block in 0..<3 {
            var candidates = 0
            for i in (block * 32)..<(block * 32 + 32) {
                let row = rounded[(i * n)..<((i + 1) * n)], top = row.max()!
                candidates += row.filter { $0 >= top - Double(NearestSearch.margin) }.count
            }
            let crowded = Double(candidates) > 0.25 * Double(32 * n)
            XCTAssertEqual(crowded, block > 0, "block \(block): \(candidates) candidates")
        }
        checkSearch(a, m, b, n, k, exact: exact, settings: [(true, 0.25)])
    }
}
