@testable import DatoAccel
import DatoCore
import DatoModels
import XCTest

/// AT-EDM against the oracle written from at-edm.md section 4 (tools/fixtures/pruning_oracles.py).
final class ATEDMTests: XCTestCase {
    let site = TransformerBlockSite(path: "down_blocks.1.attentions.1.transformer_blocks.0", grid: (8, 8), latent: (8, 8))

    /// The head-mean attention map accumulated by the attention kernel equals torch's.
    /// Call 0 of a 10-step CFG run of `policy` at `ratio` on a copy of `x`, which it must prune; the block's output.
    func firstCall(_ policy: ATEDM, ratio: Double, block: BasicTransformerBlock, x: Tensor, context: Tensor) throws -> Tensor {
        policy.reset(steps: 10, cfg: true)
        policy.begin(call: 0, step: 0, ratio: ratio)
        let y = x.copy()
        XCTAssertTrue(try policy.run(block, on: y, context: context, at: site))
        return y
    }

    func testHeadMeanMap() throws {
        let f = try PruningFixtures.file("atedm"), block = try PruningFixtures.block()
        let x = try f.tensor("x")
        let map = Tensor(shape: [2, 64, 64])
        _ = try block.attn1(block.norm1(x), probabilityMean: map)
        XCTAssertLessThanOrEqual(PruningFixtures.maxError(map, try f.tensor("map")), 1e-6)
    }

    /// G-WPR on the exported map equals the numpy power iteration; s <- A^T s reaches a chain's stationary
    /// distribution (s <- A s would stay uniform).
    func testGWPR() throws {
        let f = try PruningFixtures.file("atedm")
        let map = try f.tensor("map"), ref = try f.tensor("scores")
        for r in 0..<2 {
            let s = GWPR.scores(map.data + r * 64 * 64, n: 64, walk: GWPR.Walk())
            for i in 0..<64 { XCTAssertEqual(s[i], ref[r * 64 + i], accuracy: 1e-6) }
        }
        let chain = try f.tensor("chain"), pi = try f.tensor("chain.stationary")
        let s = GWPR.scores(chain.data, n: 3, walk: GWPR.Walk(iterations: 1000, tolerance: 0))
        for i in 0..<3 { XCTAssertEqual(s[i], pi[i], accuracy: 1e-5) }
        XCTAssertGreaterThan(abs(s[0] - 1.0 / 3) + abs(s[1] - 1.0 / 3), 0.01, "not the uniform vector")
    }

    /// Inline placement: mask and sources exact, block outputs within 1e-5 for attention and similarity
    /// recovery, whole-state and update copies; temporal placement on a stored mask likewise.
    func testBlockMatchesOracle() throws {
        let f = try PruningFixtures.file("atedm"), block = try PruningFixtures.block()
        let x = try f.tensor("x"), context = try f.tensor("context")
        for ratio in [0.3, 0.6] {
            for recovery in [ATEDM.Recovery.attention, .similarity] {
                let key = "r\(ratio).\(recovery.rawValue)"
                for copyUpdate in [false, true] {
                    var s = ATEDM.Settings()
                    s.walk = GWPR.Walk()   // the oracle's received walk
                    s.recovery = recovery
                    s.copyUpdate = copyUpdate
                    s.cfgSharing = .none
                    s.temporal = true
                    s.dsapTau = 0
                    let policy = ATEDM(settings: s)
                    let y = try firstCall(policy, ratio: ratio, block: block, x: x, context: context)
                    let ref = try f.tensor("\(key).\(copyUpdate ? "out_update" : "out")")
                    XCTAssertLessThanOrEqual(PruningFixtures.maxError(y, ref), 1e-5 * max(1, ref.maxAbs), "\(key) update \(copyUpdate)")
                    XCTAssertEqual(policy.tokenLog[site.path], LayerTokens(selfQueries: 64, selfKeys: 64, cross: 64 - Int(ratio * 64), ffn: 64 - Int(ratio * 64)))
                    guard !copyUpdate else { continue }
                    // The next call within refreshSteps reuses the mask from the block input.
                    policy.begin(call: 1, step: 1, ratio: ratio)
                    let z = x.copy()
                    XCTAssertTrue(try policy.run(block, on: z, context: context, at: site))
                    let temporal = try f.tensor("\(key).temporal")
                    XCTAssertLessThanOrEqual(PruningFixtures.maxError(z, temporal), 1e-5 * max(1, temporal.maxAbs), "\(key) temporal")
                    XCTAssertEqual(policy.tokenLog[site.path]?.selfQueries, 64 - Int(ratio * 64))
                }
                // Mask and sources exact.
                let sel = ATEDM(settings: { var s = ATEDM.Settings(); s.walk = GWPR.Walk(); s.recovery = recovery; return s }())
                let h1 = x.copy()
                let map = try f.tensor("map")
                Elementwise.addInPlace(h1, try block.attn1(block.norm1(x)))
                let selection = sel.select(map: map, h1: h1, pruning: Int(ratio * 64))
                XCTAssertEqual(selection.kept, PruningFixtures.indices(try f.tensor("\(key).kept")), key)
                let src = PruningFixtures.indices(try f.tensor("\(key).src"))
                for r in 0..<2 {
                    XCTAssertEqual((0..<64).map { selection.kept[r][selection.source[r][$0]] }, src[r], "\(key) sources")
                }
            }
        }
    }

    /// Similarity sources, copied updates, CFG rows sharing the mask and the cond row's sources (the default
    /// with the received walk), and the shared-mask variant: mask and sources exact, block outputs within 1e-5.
    func testSharedCFGRowsMatchOracle() throws {
        let f = try PruningFixtures.file("atedm"), block = try PruningFixtures.block()
        let x = try f.tensor("x"), context = try f.tensor("context"), map = try f.tensor("map")
        let h1 = x.copy()
        Elementwise.addInPlace(h1, try block.attn1(block.norm1(x)))
        for ratio in [0.3, 0.6] {
            for share in [ATEDM.Sharing.mask, .sources] {
                let key = "r\(ratio).share_\(share.rawValue)"
                var s = ATEDM.Settings()
                s.walk = GWPR.Walk()   // the oracle's received walk
                s.cfgSharing = share
                s.dsapTau = 0
                let policy = ATEDM(settings: s)
                let y = try firstCall(policy, ratio: ratio, block: block, x: x, context: context)
                let ref = try f.tensor("\(key).out_update")
                XCTAssertLessThanOrEqual(PruningFixtures.maxError(y, ref), 1e-5 * max(1, ref.maxAbs), key)
                let selection = policy.select(map: map, h1: h1, pruning: Int(ratio * 64))
                XCTAssertEqual(selection.kept, PruningFixtures.indices(try f.tensor("\(key).kept")), key)
                let src = PruningFixtures.indices(try f.tensor("\(key).src"))
                for r in 0..<2 {
                    XCTAssertEqual((0..<64).map { selection.kept[r][selection.source[r][$0]] }, src[r], "\(key) sources")
                }
            }
        }
    }

    /// The default reading (reverse walk without self-attention, similarity sources, copied updates, CFG rows
    /// sharing mask and sources) against the oracle's (gwpr_walk.safetensors, DEFAULT_WALK): mask and sources
    /// exact, block outputs within 1e-5.
    func testDefaultMatchesOracle() throws {
        let f = try PruningFixtures.file("atedm"), block = try PruningFixtures.block(), g = try PruningFixtures.file("gwpr_walk")
        let x = try f.tensor("x"), context = try f.tensor("context")
        for ratio in [0.3, 0.6] {
            let key = "default.r\(ratio)"
            var s = ATEDM.Settings()
            s.dsapTau = 0
            let policy = ATEDM(settings: s)
            let y = try firstCall(policy, ratio: ratio, block: block, x: x, context: context)
            let ref = try g.tensor("\(key).out_update")
            XCTAssertLessThanOrEqual(PruningFixtures.maxError(y, ref), 1e-5 * max(1, ref.maxAbs), key)
            let h1 = x.copy()
            Elementwise.addInPlace(h1, try block.attn1(block.norm1(x)))
            let selection = policy.select(map: try f.tensor("map"), h1: h1, pruning: Int(ratio * 64))
            XCTAssertEqual(selection.kept, PruningFixtures.indices(try g.tensor("\(key).kept")), key)
            let src = PruningFixtures.indices(try g.tensor("\(key).src"))
            for r in 0..<2 {
                XCTAssertEqual((0..<64).map { selection.kept[r][selection.source[r][$0]] }, src[r], "\(key) sources")
            }
        }
        let d = ATEDM.Settings()
        XCTAssertEqual([d.recovery == .similarity, d.copyUpdate, d.cfgSharing == .sources, d.levels == [0],
                        d.walk == GWPR.Walk.atedmDefault], [true, true, true, true, true],
                       "the oracle's default reading is the default")
        XCTAssertEqual([d.walk.direction == .given, d.walk.columnNormalized, d.walk.selfAttention], [true, true, false])
    }

    /// s <- A s (`gwpr=given`) matches the oracle and stays at the uniform start up to rounding.
    func testGWPRGivenDirection() throws {
        let f = try PruningFixtures.file("atedm")
        let map = try f.tensor("map"), ref = try f.tensor("scores.given")
        for r in 0..<2 {
            let s = GWPR.scores(map.data + r * 64 * 64, n: 64, walk: GWPR.Walk(direction: .given))
            for i in 0..<64 {
                XCTAssertEqual(s[i], ref[r * 64 + i], accuracy: 1e-6)
                XCTAssertEqual(s[i], 1.0 / 64, accuracy: 1e-5)
            }
        }
    }

    /// `levels` and `stages` choose the blocks that prune; DSAP learns the modules per down stage from the
    /// paths (one here, as in the demo model), so the last up module is `attentions.1`.
    func testBlockChoiceAndLayout() throws {
        let f = try PruningFixtures.file("atedm"), x = try f.tensor("x")
        var s = ATEDM.Settings()
        s.stages = [.up]
        let policy = ATEDM(settings: s)
        policy.reset(steps: 10, cfg: true)
        policy.begin(call: 0, step: 5, ratio: 0.5)
        XCTAssertNil(try policy.tokens(for: x, at: site), "down stage with stages=up")
        let up = TransformerBlockSite(path: "up_blocks.2.attentions.0.transformer_blocks.0", grid: (8, 8), latent: (8, 8))
        XCTAssertNotNil(try policy.tokens(for: x, at: up))
        let deeper = TransformerBlockSite(path: "up_blocks.1.attentions.0.transformer_blocks.0", grid: (8, 8), latent: (16, 16))
        XCTAssertNil(try policy.tokens(for: x, at: deeper), "level 1 with levels=0")
        let demo = ATEDM()
        demo.reset(steps: 10, cfg: true)
        demo.begin(call: 0, step: 0, ratio: 0.5)
        XCTAssertEqual(demo.ratio(block: "down_blocks.1.attentions.0.transformer_blocks.0"), 0)
        XCTAssertEqual(demo.ratio(block: "up_blocks.2.attentions.1.transformer_blocks.0"), 0, "last up module protected")
        XCTAssertEqual(demo.ratio(block: "up_blocks.2.attentions.0.transformer_blocks.0"), 0.5)
    }

    /// Ratio 0 runs dense; DSAP protects the first down / last up block of a stage in early steps and scales
    /// the ratio there.
    func testDSAPAndZeroRatio() throws {
        let policy = ATEDM()
        policy.reset(steps: 10, cfg: true)
        policy.begin(call: 0, step: 0, ratio: 0)
        let f = try PruningFixtures.file("atedm"), block = try PruningFixtures.block()
        XCTAssertFalse(try policy.run(block, on: try f.tensor("x"), context: try f.tensor("context"), at: site))
        policy.begin(call: 2, step: 2, ratio: 0.5)
        XCTAssertEqual(policy.ratio(block: "down_blocks.0.attentions.0.transformer_blocks.0"), 0, "protected early")
        XCTAssertEqual(policy.ratio(block: "down_blocks.0.attentions.1.transformer_blocks.0"), 0.5)
        XCTAssertEqual(policy.ratio(block: "up_blocks.3.attentions.2.transformer_blocks.0"), 0)
        policy.begin(call: 3, step: 3, ratio: 0.5)
        XCTAssertEqual(policy.ratio(block: "down_blocks.0.attentions.0.transformer_blocks.0"), 0.5, "ceil(0.3 * 10) = 3 early steps")
        policy.settings.dsapProtect = false
        policy.settings.dsapEarlyFactor = 0.5
        policy.begin(call: 1, step: 1, ratio: 0.6)
        XCTAssertEqual(policy.ratio(block: "down_blocks.0.attentions.0.transformer_blocks.0"), 0.3, accuracy: 1e-12)
    }
}
