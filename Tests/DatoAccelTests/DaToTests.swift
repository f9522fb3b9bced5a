@testable import DatoAccel
import DatoCore
import DatoModels
import XCTest

/// DaTo against the oracle written from dato.md (tools/fixtures/pruning_oracles.py) and the spec's properties.
final class DaToTests: XCTestCase {
    /// Base tokens, pruned set and recovery sources exact; block outputs within 1e-5 (self-attention only,
    /// and self-attention + cross-attention + FFN), on 8x8 and 7x10 grids with CFG-aligned rows.
    func testPartitionAndBlockMatchOracle() throws {
        let f = try PruningFixtures.file("dato"), block = try PruningFixtures.block()
        for (h, w) in [(8, 8), (7, 10)] {
            let key = "g\(h)x\(w)"
            let x = try f.tensor("\(key).x"), context = try f.tensor("\(key).context")
            let scores = PruningFixtures.rows(try f.tensor("\(key).scores"))
            for ratio in ["0.3", "0.5", "0.75"] {
                let k = "\(key).r\(ratio)"
                let part = try XCTUnwrap(DaTo.partition(x, grid: (h, w), scores: scores, ratio: Double(ratio)!, alignCFG: true))
                XCTAssertEqual(part.base, PruningFixtures.indices(try f.tensor("\(k).base")), "\(k) base")
                XCTAssertEqual(part.pruned, PruningFixtures.indices(try f.tensor("\(k).pruned")), "\(k) pruned")
                let src = PruningFixtures.indices(try f.tensor("\(k).src"))
                for r in 0..<x.dim(0) {
                    let mine = part.pruned[r].map { part.selection.kept[r][part.selection.source[r][$0]] }
                    XCTAssertEqual(mine, src[r], "\(k) sources of row \(r)")
                }
                XCTAssertEqual(Array(part.base[2...3]), Array(part.base[0...1]), "cond rows take the uncond bases")
                for (flags, name) in [((true, false, false), "out"), ((true, true, true), "out_all")] {
                    var sel = part.selection
                    (sel.attention, sel.crossAttention, sel.mlp) = flags
                    let y = x.copy()
                    try block.run(y, context: context, reduction: sel)
                    let ref = try f.tensor("\(k).\(name)")
                    XCTAssertLessThanOrEqual(PruningFixtures.maxError(y, ref), 1e-5 * max(1, ref.maxAbs), "\(k) \(name)")
                }
            }
        }
    }

    /// D from two outputs, normalised per row, pooled to coarser grids (torch adaptive_avg_pool2d).
    func testDynamicsMatchOracle() throws {
        let f = try PruningFixtures.file("dynamics")
        for (h, w) in [(9, 9), (8, 12)] {
            let key = "d\(h)x\(w)"
            var d = Dynamics()
            d.record(try f.tensor("\(key).e2"), normalize: true)
            XCTAssertNil(d.signal(grid: (h, w), rows: 2), "one output gives no D")
            d.record(try f.tensor("\(key).e1"), normalize: true)
            var grid = (h: h, w: w)
            for level in 0...2 {
                if level > 0 { grid = ((grid.h + 1) / 2, (grid.w + 1) / 2) }
                let ref = try f.tensor(level == 0 ? "\(key).dn" : "\(key).dn.l\(level)")
                let mine = try XCTUnwrap(d.signal(grid: grid, rows: 2)).flatMap { $0 }
                XCTAssertEqual(mine.count, ref.count)
                for i in 0..<ref.count { XCTAssertEqual(mine[i], ref[i], accuracy: 1e-5, "\(key) level \(level) [\(i)]") }
            }
        }
    }

    /// Pooling preserves the mean when sizes divide evenly; a repeated output (depth 0) gives D = 0.
    func testDynamicsProperties() {
        let d = (0..<64).map { Float($0 % 7) }
        let pooled = Dynamics.pool(d, from: (8, 8), to: (4, 4))
        XCTAssertEqual(pooled.reduce(0, +) / 16, d.reduce(0, +) / 64, accuracy: 1e-5)
        let e = Tensor(shape: [2, 4, 4, 4])
        for i in 0..<e.count { e.data[i] = Float(i % 5) }
        var dyn = Dynamics()
        dyn.record(e, normalize: true)
        dyn.record(e, normalize: true)
        XCTAssertEqual(dyn.signal(grid: (4, 4), rows: 2)?.flatMap { $0 }, [Float](repeating: 0, count: 32))
    }

    /// Ratio 0 (and P = 0) leave the block to run densely: bit-identical output.
    func testZeroRatioIsDense() throws {
        let f = try PruningFixtures.file("dato"), block = try PruningFixtures.block()
        let x = try f.tensor("g8x8.x"), context = try f.tensor("g8x8.context")
        XCTAssertNil(DaTo.partition(x, grid: (8, 8), scores: PruningFixtures.rows(try f.tensor("g8x8.scores")), ratio: 0.01, alignCFG: true))
        let dense = x.copy()
        try block(dense, context: context)
        let dato = DaTo()
        dato.reset(steps: 1, cfg: true)
        dato.begin(call: 0, step: 0, ratio: 0)
        let y = x.copy()
        let site = TransformerBlockSite(path: "down_blocks.0.attentions.0.transformer_blocks.0", grid: (8, 8), latent: (8, 8))
        if try !dato.run(block, on: y, context: context, at: site) { try block(y, context: context) }
        XCTAssertEqual(y.array, dense.array)
        // A level that is not configured is not touched either.
        dato.begin(call: 1, step: 0, ratio: 0.5)
        let coarse = TransformerBlockSite(path: "down_blocks.1.attentions.0.transformer_blocks.0", grid: (8, 8), latent: (16, 16))
        XCTAssertFalse(try dato.run(block, on: x.copy(), context: context, at: coarse))
    }

    /// P never exceeds N - W; odd grids (65x65) and wide ones (64x96) work; bases are window argmaxes;
    /// recovering from the kept rows returns each kept row itself and the most similar kept row for pruned ones.
    func testPartitionProperties() throws {
        for (h, w) in [(65, 65), (64, 96), (5, 3)] {
            let n = h * w, c = 8
            let x = Tensor(shape: [2, n, c])
            var rng = SplitMix(seed: UInt64(n))
            for i in 0..<x.count { x.data[i] = rng.nextNormal() }
            let scores = (0..<2).map { _ in (0..<n).map { _ in rng.nextNormal() } }
            let part = try XCTUnwrap(DaTo.partition(x, grid: (h, w), scores: scores, ratio: 0.75, alignCFG: false))
            let windows = (h / 2) * (w / 2)
            XCTAssertEqual(part.selection.keptCount, n - min(Int(0.75 * Double(n)), n - windows))
            for r in 0..<2 {
                XCTAssertEqual(part.base[r].count, windows)
                for b in part.base[r] {
                    let (y, xx) = (b / w, b % w)
                    XCTAssertLessThan(y, 2 * (h / 2)); XCTAssertLessThan(xx, 2 * (w / 2))
                    let members = [0, 1, w, w + 1].map { (y / 2 * 2) * w + xx / 2 * 2 + $0 }
                    XCTAssertEqual(scores[r][b], members.map { scores[r][$0] }.max())
                    XCTAssertTrue(part.selection.kept[r].contains(b), "base tokens are kept")
                }
            }
            let kept = part.selection.merge(x), back = part.selection.unmerge(kept)
            for r in 0..<2 {
                for t in part.selection.kept[r] {
                    XCTAssertEqual(Array(back.array[(r * n + t) * c..<(r * n + t + 1) * c]), Array(x.array[(r * n + t) * c..<(r * n + t + 1) * c]))
                }
            }
        }
    }

    /// The base-score noise comes from the policy's own stream: the same seed, call and block give the same
    /// scores whatever other blocks ran; another block gets other noise.
    func testNoiseStreamsArePerBlock() {
        let a = DaTo(), b = DaTo()
        a.reset(steps: 1, cfg: false); b.reset(steps: 1, cfg: false)
        a.begin(call: 3, step: 2, ratio: 0.4); b.begin(call: 3, step: 2, ratio: 0.4)
        _ = b.baseScores(grid: (4, 4), rows: 1, path: "other")
        XCTAssertEqual(a.baseScores(grid: (4, 4), rows: 1, path: "p"), b.baseScores(grid: (4, 4), rows: 1, path: "p"))
        XCTAssertNotEqual(a.baseScores(grid: (4, 4), rows: 1, path: "p"), a.baseScores(grid: (4, 4), rows: 1, path: "q"))
    }
}
