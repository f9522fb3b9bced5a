@testable import DatoAccel
import DatoCore
import XCTest

/// G-WPR's walk variants (damping, no self-attention, column-normalised map) and the CFG rows' shared scores,
/// against the numpy oracle (tools/fixtures/pruning_oracles.py, `WALKS`, on atedm.safetensors' map).
final class GWPRWalkTests: XCTestCase {
    /// Fixture key -> the plan options that ask for it.
    static let variants: [(key: String, options: String)] = [
        ("damping0.85", "gwpr=received,self=1,damping=0.85"),
        ("noself", "gwpr=received,self=0"),
        ("columns.given", "gwpr=reverse,self=1"),
        ("columns.given", "normalize=columns,gwpr=given,self=1"),
        ("columns.received", "normalize=columns,gwpr=received,self=1"),
        ("noself.columns.given.damping0.5.it3", "damping=0.5,iterations=3"),
    ]

    static func walk(_ options: String) throws -> GWPR.Walk {
        guard case let .atedm(s) = try PruningMethod(parsing: "atedm," + options).settings else {
            throw XCTSkip("atedm options did not parse as atedm settings")
        }
        return s.walk
    }

    /// Each plan option's scores equal the oracle's on both rows of the exported map.
    func testWalkVariantsMatchOracle() throws {
        let f = try PruningFixtures.file("gwpr_walk"), map = try PruningFixtures.file("atedm").tensor("map")
        for (key, options) in Self.variants {
            let walk = try Self.walk(options), ref = try f.tensor(key)
            for r in 0..<2 {
                let s = GWPR.scores(map.data + r * 64 * 64, n: 64, walk: walk)
                let worst = (0..<64).map { abs(s[$0] - ref[r * 64 + $0]) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 1e-6, "\(key) row \(r)")
            }
        }
    }

    /// `gwpr=received,self=1` (the default before the reverse walk) is the plain power iteration on the map as
    /// it is, as `GWPR.Walk()` is.
    func testReceivedWalkIsThePlainIteration() throws {
        let map = try PruningFixtures.file("atedm").tensor("map"), ref = try PruningFixtures.file("atedm").tensor("scores")
        let plain = GWPR.Walk().factors(map.data, n: 64)
        XCTAssertTrue(plain.rowScale == nil && plain.columnScale == nil && plain.diagonal == nil)
        XCTAssertEqual(try Self.walk("gwpr=received,self=1,damping=1"), GWPR.Walk())
        let s = GWPR.scores(map.data, n: 64, walk: try Self.walk("gwpr=received,self=1,damping=1"))
        for i in 0..<64 { XCTAssertEqual(s[i], ref[i], accuracy: 1e-6) }
    }

    /// `cfgscores=cond`: both CFG rows keep the top tokens of the cond row's scores; the mean of both rows'
    /// scores (the default) keeps others on this map.
    func testCondRowScoresRankTheSharedMask() throws {
        let f = try PruningFixtures.file("atedm"), map = try f.tensor("map"), h1 = try f.tensor("x")
        let cond = GWPR.scores(map.data + 64 * 64, n: 64, walk: .atedmDefault)
        var differs = false
        for p in [19, 38] {
            var s = ATEDM.Settings()
            s.cfgScores = .cond
            let policy = ATEDM(settings: s)
            policy.reset(steps: 10, cfg: true)
            let sel = policy.select(map: map, h1: h1, pruning: p)
            XCTAssertEqual(sel.kept[0], GWPR.keep(cond, pruning: p))
            XCTAssertEqual(sel.kept[1], sel.kept[0])
            let mean = ATEDM()
            mean.reset(steps: 10, cfg: true)
            differs = differs || mean.select(map: map, h1: h1, pruning: p).kept[1] != sel.kept[1]
        }
        XCTAssertTrue(differs, "the fixture map should tell the cond row's ranking from the mean one")
    }
}
