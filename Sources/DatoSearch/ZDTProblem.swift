import Foundation

/// ZDT1-3 with 30 variables in [0, 1] (docs/methods/search.md), the benchmark NSGA-II is validated on.
public struct ZDTProblem: SearchProblem {
    public let kind: Int
    public init(kind: Int) { self.kind = kind }

    /// Hypervolume (reference point 1.1, 1.1) of the continuous optimal front, and pymoo 0.6.2's mean over
    /// seeds 0-9 with pop 100, 250 generations, SBX 0.9/15, PM eta 20 (docs/methods/search.md).
    public static let optimalHypervolume = [1: 0.87667, 2: 0.54333, 3: 1.33176]
    public static let pymooMeanHypervolume = [1: 0.86966, 2: 0.53635, 3: 1.32760]

    public var lowerBounds: [Double] { Array(repeating: 0, count: 30) }
    public var upperBounds: [Double] { Array(repeating: 1, count: 30) }
    public var integerGenes: [Bool] { Array(repeating: false, count: 30) }
    public var objectiveCount: Int { 2 }
    public var constraintCount: Int { 0 }

    public func evaluate(_ genomes: [[Double]]) throws -> [Evaluation] {
        genomes.map { x in
            let f1 = x[0]
            let g = 1 + 9 / Double(x.count - 1) * x.dropFirst().reduce(0, +)
            let f2: Double
            switch kind {
            case 1: f2 = g * (1 - (f1 / g).squareRoot())
            case 2: f2 = g * (1 - (f1 / g) * (f1 / g))
            default: f2 = g * (1 - (f1 / g).squareRoot() - (f1 / g) * sin(10 * Double.pi * f1))
            }
            return Evaluation(objectives: [f1, f2])
        }
    }
}
