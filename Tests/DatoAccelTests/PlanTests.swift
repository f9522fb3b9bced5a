@testable import DatoAccel
import DatoModels
import XCTest

/// Plans: presets, string and JSON forms, validation, the MAC model.
final class PlanTests: XCTestCase {
    func testQuadCenterMatchesSpecVectors() throws {
        // DeepCache nonuniform schedule (docs/methods/caching.md; T = 50, c = 15, p = 1.4, computed with numpy 2.4.6).
        let expected: [Int: [Int]] = [
            2: [0, 2, 4, 6, 7, 9, 11, 12, 14, 15, 17, 18, 20, 22, 24, 26, 28, 30, 32, 35, 37, 39, 42, 44, 47],
            3: [0, 3, 6, 8, 11, 13, 15, 17, 20, 22, 25, 28, 32, 35, 38, 42, 46],
            4: [0, 4, 7, 10, 14, 16, 19, 23, 27, 31, 35, 40, 45],
            5: [0, 5, 9, 13, 17, 21, 26, 31, 37, 43],
            6: [0, 5, 10, 15, 18, 24, 29, 36, 42],
            7: [0, 6, 11, 15, 21, 27, 34, 42],
            8: [0, 7, 13, 18, 25, 32, 40],
        ]
        for (n, want) in expected {
            let (got, p) = try PlanPresets.quadCenter(total: 50, count: (50 + n - 1) / n, center: 15, power: 1.4)
            XCTAssertEqual(got, want, "N = \(n)")
            XCTAssertEqual(p, 1.4, "N = \(n) needed no power decrement")
        }
        XCTAssertEqual(try PlanPresets.quadCenter(total: 50, count: 10, center: 0, power: 1.4).indices, [0, 1, 5, 9, 13, 18, 24, 30, 36, 43])
        XCTAssertEqual(try PlanPresets.quadCenter(total: 50, count: 10, center: 25, power: 1.4).indices, [0, 6, 11, 16, 21, 25, 29, 34, 39, 44])
    }

    func testDeepCachePresets() throws {
        // PLMS-50: 51 calls; full calls at 0, 3, ..., 48; the last call (k = 50) is never full.
        let plan = try PlanPresets.resolve("deepcache:3", calls: 51, steps: 50)
        XCTAssertEqual(plan.depths.count, 51)
        XCTAssertEqual(plan.depths.indices.filter { plan.depths[$0] == 12 }, Array(stride(from: 0, to: 50, by: 3)))
        XCTAssertEqual(Set(plan.depths), [12, 2])
        let branch = try PlanPresets.resolve("deepcache:5,branch=1", calls: 50, steps: 50)
        XCTAssertEqual(branch.depths.filter { $0 == 12 }.count, 10)
        XCTAssertEqual(Set(branch.depths), [12, 1])
        let nonuniform = try PlanPresets.resolve("deepcache:5,nonuniform,center=15,power=1.4", calls: 50, steps: 50)
        XCTAssertEqual(nonuniform.depths.indices.filter { nonuniform.depths[$0] == 12 }, [0, 5, 9, 13, 17, 21, 26, 31, 37, 43])
        let ref = try PlanPresets.resolve("dato-reference", calls: 51, steps: 50)
        XCTAssertEqual(ref.depths.indices.filter { ref.depths[$0] == 12 }, [0, 7, 17, 22, 30, 41])
        XCTAssertThrowsError(try PlanPresets.resolve("dato-reference", calls: 20, steps: 20))
    }

    func testCompactAndJSONRoundTrip() throws {
        let plan = try AccelerationPlan(depths: [12, 2, 2, 12, 0, 1, 1, 1], ratios: [0.4, 0.4, 0.3, 0.5], method: "dato")
        XCTAssertEqual(plan.description, "d:12,2*2,12,0,1*3;r:0.4*2,0.3,0.5;m:dato")
        XCTAssertEqual(try AccelerationPlan(compact: plan.description), plan)
        XCTAssertEqual(try PlanPresets.resolve(plan.json, calls: 8, steps: 4), plan)
        XCTAssertEqual(try PlanPresets.resolve(plan.description, calls: 8, steps: 4), plan)
    }

    func testBadPlansAreRejected() {
        let bad: [(String, String)] = [
            ("d:3,12", "call 0 must be 12"), ("d:12,13", "outside 0...12"), ("d:12,x", "not an integer"),
            ("d:12*2;r:1.5*2", "outside 0...0.95"), ("d:12;q:1", "unknown field"), ("d:12*3", "3 depths but the sampler makes 2"),
            ("deepcache:0", "interval"), ("deepcache:3,branch=40", "branch"), ("deepcache:3,foo", "unknown deepcache option"),
            ("fast please", "not a preset"), ("d:12*2;m:magic", "unknown pruning method"), ("{\"depths\": 3}", "not a plan JSON"),
        ]
        for (spec, fragment) in bad {
            XCTAssertThrowsError(try PlanPresets.resolve(spec, calls: 2, steps: 2), spec) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(spec): \(error)")
            }
        }
    }

    func testMACModelAgainstSpecTable() {
        // caching.md section 2: GMAC per call at 512 px, batch 1 (our own model; checked here for consistency).
        let cost = UNetCost(config: UNetConfig(), height: 64, width: 64)
        XCTAssertEqual(cost.units, 12)
        let table: [Int: Double] = [12: 401.6, 11: 390.7, 8: 340.7, 5: 226.6, 3: 152.7, 2: 90.1, 1: 31.6]
        for (d, gmac) in table {
            XCTAssertEqual(cost.macs(depth: d) / 1e9, gmac, accuracy: 0.02 * gmac, "depth \(d)")
        }
        XCTAssertEqual(cost.macs(depth: 0), 0)
    }

    /// attn1 merged from 4096 to 2048 tokens (ToMe 0.5) in the five level-0 blocks of SD 1.5 at 512 px:
    /// each saves 4 (4096 - 2048) 320^2 + 2 (4096^2 - 2048^2) 320 MACs (at-edm.md's per-layer terms).
    func testPrunedTokenMACs() {
        let cost = UNetCost(config: UNetConfig(), height: 64, width: 64)
        let merged = LayerTokens(selfQueries: 2048, selfKeys: 2048, cross: 4096, ffn: 4096)
        let tokens: (UNetCost.Layer) -> LayerTokens? = { $0.level == 0 ? merged : nil }
        let perBlock = 4.0 * 2048 * 320 * 320 + 2.0 * (4096.0 * 4096 - 2048.0 * 2048) * 320
        XCTAssertEqual(cost.macs(depth: 12) - cost.macs(depth: 12, tokens: tokens), 5 * perBlock, accuracy: 1)
        // Depth 2 runs 3 of the level-0 transformer blocks: D_1, U_1 and U_0 (caching.md table: 3/0/0/0).
        XCTAssertEqual(Set(cost.layers(depth: 2).map(\.path)), ["down_blocks.0.attentions.0.transformer_blocks.0",
                                                               "up_blocks.3.attentions.2.transformer_blocks.0",
                                                               "up_blocks.3.attentions.1.transformer_blocks.0"])
        XCTAssertEqual(cost.macs(depth: 2) - cost.macs(depth: 2, tokens: tokens), 3 * perBlock, accuracy: 1)
        XCTAssertEqual(cost.layers(depth: 12).count, 16)
        // AT-EDM inline: attn1 dense, attn2 and the FFN on 2048 tokens: saves 2 n' C^2 + 2 n' L C + 12 n' C^2.
        let inline = LayerTokens(selfQueries: 4096, selfKeys: 4096, cross: 2048, ffn: 2048)
        let saved = 2048.0 * (14 * 320 * 320 + 2 * 77 * 320)
        XCTAssertEqual(cost.macs(depth: 12) - cost.macs(depth: 12) { $0.level == 0 ? inline : nil }, 5 * saved, accuracy: 1)
    }
}
