import DatoCore
@testable import DatoSearch
import Foundation
import XCTest

/// SBX and polynomial mutation produce pymoo's child distributions: 1e5 draws each, compared with pymoo's
/// percentiles (tools/fixtures/nsga2_oracles.py) by the Kolmogorov-Smirnov distance at those points.
final class DistributionTests: XCTestCase {
    struct Unit: SearchProblem {
        var lowerBounds: [Double] { [0] }
        var upperBounds: [Double] { [1] }
        var integerGenes: [Bool] { [false] }
        var objectiveCount: Int { 1 }
        var constraintCount: Int { 0 }
        func evaluate(_ genomes: [[Double]]) throws -> [Evaluation] { genomes.map { Evaluation(objectives: $0) } }
    }

    func quantiles() throws -> (sbx: [Double], pm: [Double]) {
        struct D: Decodable { let sbx: [Double]; let pm: [Double] }
        struct File: Decodable { let distributions: D }
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/nsga2.json")
        let d = try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).distributions
        return (d.sbx, d.pm)
    }

    /// Largest gap between our empirical CDF at pymoo's percentiles and the percentile levels.
    func ksDistance(_ samples: [Double], _ q: [Double]) -> Double {
        let s = samples.sorted()
        var worst = 0.0
        for (i, v) in q.enumerated() {
            var lo = 0, hi = s.count
            while lo < hi { let m = (lo + hi) / 2; if s[m] <= v { lo = m + 1 } else { hi = m } }
            worst = max(worst, abs(Double(lo) / Double(s.count) - Double(i + 1) / 100))
        }
        return worst
    }

    func testOperatorDistributionsMatchPymoo() throws {
        let (sbxQ, pmQ) = try quantiles()
        var s = NSGA2.Settings()
        s.crossoverProbability = 1; s.crossoverVariableProbability = 1; s.crossoverEta = 15
        s.mutationProbability = 1; s.mutationEta = 20
        let nsga = NSGA2(settings: s)
        var random = SplitMix(seed: 12)
        var children: [Double] = [], mutants: [Double] = []
        for _ in 0..<50_000 {
            let (a, b) = nsga.crossover([0.2], [0.8], Unit(), random: &random)
            children += [a[0], b[0]]
        }
        for _ in 0..<100_000 { mutants.append(nsga.mutate([0.3], Unit(), 1, random: &random)[0]) }
        // Two-sample KS critical distance at alpha = 0.001 for 1e5 + 1e5 samples is about 0.0087.
        XCTAssertLessThan(ksDistance(children, sbxQ), 0.0087, "SBX")
        XCTAssertLessThan(ksDistance(mutants, pmQ), 0.0087, "PM")
    }
}
