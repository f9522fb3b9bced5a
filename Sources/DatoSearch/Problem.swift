/// A minimisation problem for NSGA-II (docs/methods/search.md): genes with inclusive bounds, some
/// integer-valued, a number of objectives (all minimised) and inequality constraints g_j(x) <= 0.
public protocol SearchProblem {
    var lowerBounds: [Double] { get }
    var upperBounds: [Double] { get }
    /// Per gene: rounded to an integer (half to even) after crossover and after mutation.
    var integerGenes: [Bool] { get }
    var objectiveCount: Int { get }
    var constraintCount: Int { get }
    /// Evaluates a batch of genomes: objectives F and constraints G for each.
    func evaluate(_ genomes: [[Double]]) throws -> [Evaluation]
}

/// One genome's objectives and constraint values.
public struct Evaluation: Sendable, Equatable, Codable {
    public var objectives: [Double]
    public var constraints: [Double]

    public init(objectives: [Double], constraints: [Double] = []) {
        self.objectives = objectives
        self.constraints = constraints
    }

    /// pymoo's constraint violation: the sum of max(0, g_j).
    public var violation: Double { constraints.reduce(0) { $0 + max(0, $1) } }
}

/// A member of the population: genome, evaluation, and the rank and crowding survival assigned.
public struct Individual: Sendable, Equatable {
    public var genome: [Double]
    public var evaluation: Evaluation
    public var rank = Int.max
    public var crowding = 0.0

    public init(genome: [Double], evaluation: Evaluation) {
        self.genome = genome
        self.evaluation = evaluation
    }

    public var objectives: [Double] { evaluation.objectives }
    public var violation: Double { evaluation.violation }
}
