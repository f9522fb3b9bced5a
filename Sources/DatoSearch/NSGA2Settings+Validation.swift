/// Range checks on NSGA-II's settings, so that a library caller (not only the CLI) gets an error instead of
/// a run that can never finish (a population of 0 never fills a tournament) or that computes with NaN.
extension NSGA2.Settings {
    /// The largest population or offspring count accepted (each individual is a whole image evaluation).
    public static let maximumPopulation = 100_000
    /// The largest generation count accepted.
    public static let maximumGenerations = 1_000_000

    /// Throws a `SearchError` naming the first setting out of range.
    public func validate() throws {
        guard (1...Self.maximumPopulation).contains(populationSize) else {
            throw SearchError("NSGA-II population size \(populationSize) must be in 1...\(Self.maximumPopulation)")
        }
        if let offspringCount, !(1...Self.maximumPopulation).contains(offspringCount) {
            throw SearchError("NSGA-II offspring count \(offspringCount) must be in 1...\(Self.maximumPopulation)")
        }
        guard (1...Self.maximumGenerations).contains(generations) else {
            throw SearchError("NSGA-II generation count \(generations) must be in 1...\(Self.maximumGenerations)")
        }
        var probabilities = [("crossover probability", crossoverProbability),
                             ("crossover variable probability", crossoverVariableProbability),
                             ("mutation probability", mutationProbability)]
        if let mutationVariableProbability { probabilities.append(("mutation variable probability", mutationVariableProbability)) }
        for (name, p) in probabilities where !(p >= 0 && p <= 1) {
            throw SearchError("NSGA-II \(name) \(p) must be a number in 0...1")
        }
        for (name, eta) in [("crossover eta", crossoverEta), ("mutation eta", mutationEta)] where !(eta.isFinite && eta >= 0) {
            throw SearchError("NSGA-II \(name) \(eta) must be a finite number >= 0")
        }
    }
}
