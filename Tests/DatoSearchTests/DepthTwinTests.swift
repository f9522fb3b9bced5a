import DatoSearch
import Foundation
import XCTest

/// The synthetic twin of the DaTo depth search (integer genes 0..2, one constraint; nsga2.md section 11),
/// with the reference's settings, against pymoo 0.6.2 over 20 seeds (tools/fixtures/nsga2_oracles.py).
struct DepthTwin: SearchProblem {
    static let fraction = [0.0, 0.079, 1.0]
    var lowerBounds: [Double] { Array(repeating: 0, count: 50) }
    var upperBounds: [Double] { Array(repeating: 2, count: 50) }
    var integerGenes: [Bool] { Array(repeating: true, count: 50) }
    var objectiveCount: Int { 2 }
    var constraintCount: Int { 1 }

    static func objectives(_ genes: [Int]) -> [Double] {
        var stale = 0, err = 0.0
        for (i, g) in genes.enumerated() {
            stale = g == 2 ? 0 : stale + 1
            err += Double(stale) * (g == 1 ? 0.004 : 0.01) * (1 + Double(i + 1) / 50)
        }
        return [(1 + genes.reduce(0) { $0 + fraction[$1] }) / Double(genes.count + 1), err]
    }

    func evaluate(_ genomes: [[Double]]) throws -> [Evaluation] {
        genomes.map { g in
            let f = Self.objectives(g.map { Int($0) })
            return Evaluation(objectives: f, constraints: [f[1] - 1])
        }
    }
}

final class DepthTwinTests: XCTestCase {
    struct Twin: Decodable {
        struct Example: Decodable { let genes: [Int]; let f: [Double] }
        let hv: [Double]; let mean: Double; let std: Double; let example: Example
    }

    func testTwinAgainstPymoo() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/nsga2.json")
        struct File: Decodable { let twin: Twin }
        let twin = try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).twin
        let f = DepthTwin.objectives(twin.example.genes)
        XCTAssertEqual(f[0], twin.example.f[0], accuracy: 1e-12)
        XCTAssertEqual(f[1], twin.example.f[1], accuracy: 1e-12)
        var hvs: [Double] = []
        for seed in 1...20 {
            var s = NSGA2.Settings()
            s.populationSize = 15; s.generations = 30; s.seed = UInt64(seed)
            s.crossoverProbability = 0.8; s.crossoverEta = 15; s.mutationProbability = 0.8; s.mutationEta = 15
            let pop = try NSGA2(settings: s).run(DepthTwin())
            XCTAssertTrue(pop.allSatisfy { $0.genome.allSatisfy { [0, 1, 2].contains($0) } }, "genes stay integers in 0...2")
            let front = pop.filter { $0.rank == 0 && $0.violation <= 0 }.map(\.objectives)
            hvs.append(Hypervolume.twoObjectives(front, reference: (1.1, 1.1)))
        }
        let mean = hvs.reduce(0, +) / Double(hvs.count)
        // Means of 20 runs each: a gap within about two standard errors of the pair is noise.
        let tolerance = 2 * twin.std * (2.0 / 20).squareRoot() + 0.005
        XCTAssertGreaterThanOrEqual(mean, twin.mean - tolerance, "ours \(mean) vs pymoo \(twin.mean) (std \(twin.std))")
        print("depth twin HV over 20 seeds: ours \(mean), pymoo \(twin.mean)")
    }
}
