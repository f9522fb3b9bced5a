import DatoCore
import DatoSearch
import Foundation
import XCTest

/// Exact checks of the NSGA-II building blocks against pymoo (tools/fixtures/nsga2_oracles.py).
final class OperatorTests: XCTestCase {
    struct Oracle: Decodable {
        struct Sorting: Decodable { let F: [[Double]]; let fronts: [[Int]]; let crowding: [[Double?]] }
        struct HV: Decodable { let points: [[Double]]; let hv: Double }
        struct Rounding: Decodable { let x: [Double]; let y: [Double] }
        struct SBX: Decodable { let p: [Double]; let bounds: [Double]; let eta: Double; let u: Double; let c: [Double] }
        struct PM: Decodable { let x: Double; let bounds: [Double]; let eta: Double; let u: Double; let y: Double }
        let sorting: [Sorting]; let hypervolume: [HV]; let rounding: Rounding; let sbx: [SBX]; let pm: [PM]
    }

    func oracle() throws -> Oracle {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/nsga2.json")
        // Boundary crowding distances (+inf) are stored as null.
        return try JSONDecoder().decode(Oracle.self, from: Data(contentsOf: url))
    }

    func testSortingAndCrowding() throws {
        for case let s in try oracle().sorting {
            XCTAssertEqual(Dominance.nonDominatedFronts(s.F), s.fronts)
            for (front, expected) in zip(s.fronts, s.crowding) {
                let mine = Crowding.distances(front.map { s.F[$0] })
                for (a, b) in zip(mine, expected) {
                    if let b { XCTAssertEqual(a, b, accuracy: 1e-12) } else { XCTAssertEqual(a, .infinity) }
                }
            }
        }
        XCTAssertFalse(Dominance.dominates([1, 2], [1, 2]), "equal vectors dominate neither")
        XCTAssertTrue(Dominance.dominates([1, 2], [1, 3]))
    }

    func testHypervolumeRoundingAndOperators() throws {
        let o = try oracle()
        for h in o.hypervolume { XCTAssertEqual(Hypervolume.twoObjectives(h.points, reference: (1.1, 1.1)), h.hv, accuracy: 1e-12) }
        XCTAssertEqual(o.rounding.x.map(Operators.roundHalfEven), o.rounding.y)
        for s in o.sbx {
            let (a, b) = Operators.sbx(s.p[0], s.p[1], lower: s.bounds[0], upper: s.bounds[1], eta: s.eta, u: s.u)
            XCTAssertEqual(a, s.c[0], accuracy: 1e-12); XCTAssertEqual(b, s.c[1], accuracy: 1e-12)
        }
        for p in o.pm {
            XCTAssertEqual(Operators.polynomialMutation(p.x, lower: p.bounds[0], upper: p.bounds[1], eta: p.eta, u: p.u), p.y, accuracy: 1e-12)
        }
    }

    /// Survival keeps whole fronts, then the most crowded-apart members of the splitting front, then the
    /// least-violating infeasible solutions.
    func testSurvival() {
        func ind(_ f: [Double], _ g: Double = -1) -> Individual { Individual(genome: f, evaluation: Evaluation(objectives: f, constraints: [g])) }
        let pop = [ind([0, 4]), ind([1, 3]), ind([2, 2]), ind([3, 1]), ind([4, 0]), ind([5, 5]), ind([1, 1], 2), ind([0, 0], 1)]
        var random = SplitMix(seed: 1)
        let four = Survival.select(pop, count: 4, random: &random)
        XCTAssertEqual(Set(four.map(\.objectives)), [[0, 4], [4, 0], [1, 3], [3, 1]].reduce(into: Set<[Double]>()) { $0.insert($1) })
        let seven = Survival.select(pop, count: 7, random: &random)
        XCTAssertEqual(seven.last?.objectives, [0, 0], "the infeasible with the smaller violation fills up")
        XCTAssertEqual(seven.filter { $0.rank == 1 }.map(\.objectives), [[5, 5]])
    }
}
