import DatoCore
import Foundation

/// NSGA-II with pymoo's semantics (docs/methods/search.md): sampling with duplicate elimination, binary
/// tournament, SBX and polynomial mutation with rounding repair of integer genes, elitist rank-and-crowding
/// survival. One seeded generator drives every random choice, so the same seed and the same evaluation
/// results give the same run.
public struct NSGA2 {
    public struct Settings: Sendable, Equatable {
        public var populationSize = 100
        /// Offspring per generation (nil: the population size).
        public var offspringCount: Int?
        /// Generations, the initial population counting as the first.
        public var generations = 100
        public var crossoverProbability = 0.9, crossoverVariableProbability = 0.5, crossoverEta = 15.0
        /// Probability that an individual is mutated, the per-variable probability (nil: min(0.5, 1/n_var)).
        public var mutationProbability = 0.9, mutationEta = 20.0
        public var mutationVariableProbability: Double?
        public var tournament = Tournament.Rule.dominationAndCrowding
        public var seed: UInt64 = 1
        public init() {}
    }

    /// What a run reports after each generation.
    public struct Generation {
        public let index: Int
        public let population: [Individual]
        public let evaluations: Int
        /// The first front of the population (feasible, rank 0).
        public var front: [Individual] { population.filter { $0.rank == 0 && $0.violation <= 0 } }
    }

    public let settings: Settings
    /// Optional initial sampler (e.g. the reference's constrained sampling); default uniform per gene.
    public var sampler: ((inout SplitMix) -> [Double])?

    public init(settings: Settings = Settings()) { self.settings = settings }

    /// Runs the search; `report` sees every generation (return false to stop early).
    @discardableResult
    public func run(_ problem: SearchProblem, report: ((Generation) throws -> Bool)? = nil) throws -> [Individual] {
        try settings.validate()
        var random = SplitMix(key: settings.seed, 0x5ea4c4)
        let n = problem.lowerBounds.count
        var evaluations = 0
        func evaluate(_ genomes: [[Double]]) throws -> [Individual] {
            guard !genomes.isEmpty else { return [] }
            let results = try problem.evaluate(genomes)
            evaluations += genomes.count
            return zip(genomes, results).map { Individual(genome: $0, evaluation: $1) }
        }
        // Initial population: samples, repaired, duplicates re-drawn (up to 100 rounds).
        var initial: [[Double]] = []
        for _ in 0..<100 where initial.count < settings.populationSize {
            for _ in initial.count..<settings.populationSize {
                let g = repair(sampler?(&random) ?? sample(problem, random: &random), problem)
                if !initial.contains(g) { initial.append(g) }
            }
        }
        var pop = Survival.select(try evaluate(initial), count: settings.populationSize, random: &random)
        if let report, try !report(Generation(index: 1, population: pop, evaluations: evaluations)) { return pop }
        let offspring = settings.offspringCount ?? settings.populationSize
        let pm = settings.mutationVariableProbability ?? min(0.5, 1 / Double(n))
        for gen in 2...max(2, settings.generations) where gen <= settings.generations {
            var kids: [[Double]] = []
            for _ in 0..<100 where kids.count < offspring {
                let matings = (offspring - kids.count + 1) / 2
                let pairs = Tournament.select(pop, matings: matings, rule: settings.tournament, random: &random)
                var batch: [[Double]] = []
                for (a, b) in pairs {
                    let (c1, c2) = crossover(pop[a].genome, pop[b].genome, problem, random: &random)
                    batch.append(repair(mutate(repair(c1, problem), problem, pm, random: &random), problem))
                    batch.append(repair(mutate(repair(c2, problem), problem, pm, random: &random), problem))
                }
                for g in batch where kids.count < offspring {
                    if !kids.contains(g) && !pop.contains(where: { $0.genome == g }) { kids.append(g) }
                }
            }
            pop = Survival.select(pop + (try evaluate(kids)), count: settings.populationSize, random: &random)
            if let report, try !report(Generation(index: gen, population: pop, evaluations: evaluations)) { break }
        }
        return pop
    }

    func sample(_ p: SearchProblem, random: inout SplitMix) -> [Double] {
        (0..<p.lowerBounds.count).map { i in
            let lo = p.lowerBounds[i], hi = p.upperBounds[i]
            if p.integerGenes[i] { return lo + Double(random.next(Int(hi - lo) + 1)) }
            return lo + (hi - lo) * random.nextUniform()
        }
    }

    /// SBX of two parents (with probability `crossoverProbability`; otherwise copies).
    func crossover(_ p1: [Double], _ p2: [Double], _ p: SearchProblem, random: inout SplitMix) -> ([Double], [Double]) {
        guard random.nextUniform() < settings.crossoverProbability else { return (p1, p2) }
        var c1 = p1, c2 = p2
        for i in p1.indices {
            let lo = p.lowerBounds[i], hi = p.upperBounds[i]
            guard random.nextUniform() < settings.crossoverVariableProbability, abs(p1[i] - p2[i]) > 1e-14, lo != hi else { continue }
            var (a, b) = Operators.sbx(p1[i], p2[i], lower: lo, upper: hi, eta: settings.crossoverEta, u: random.nextUniform())
            if random.nextUniform() < 0.5 { swap(&a, &b) }
            c1[i] = min(hi, max(lo, a)); c2[i] = min(hi, max(lo, b))
        }
        return (c1, c2)
    }

    /// Polynomial mutation (with probability `mutationProbability` per individual).
    func mutate(_ x: [Double], _ p: SearchProblem, _ perVariable: Double, random: inout SplitMix) -> [Double] {
        guard random.nextUniform() < settings.mutationProbability else { return x }
        var y = x
        for i in x.indices {
            let lo = p.lowerBounds[i], hi = p.upperBounds[i]
            guard random.nextUniform() < perVariable, lo != hi else { continue }
            y[i] = Operators.polynomialMutation(x[i], lower: lo, upper: hi, eta: settings.mutationEta, u: random.nextUniform())
        }
        return y
    }

    /// Rounds integer genes half to even (pymoo's RoundingRepair).
    func repair(_ x: [Double], _ p: SearchProblem) -> [Double] {
        x.indices.map { p.integerGenes[$0] ? Operators.roundHalfEven(x[$0]) : x[$0] }
    }
}
