import DatoCore

/// pymoo's binary tournament for NSGA-II (docs/methods/search.md).
public enum Tournament {
    public enum Rule: String, Sendable { case dominationAndCrowding, rankAndCrowding }

    /// Picks `matings` parent pairs (indices into `pop`) from concatenated random permutations.
    public static func select(_ pop: [Individual], matings: Int, rule: Rule = .dominationAndCrowding,
                              random: inout SplitMix) -> [(Int, Int)] {
        let needed = matings * 2 * 2
        var draws: [Int] = []
        while draws.count < needed { draws += permutation(pop.count, random: &random) }
        var winners: [Int] = []
        for t in 0..<(matings * 2) {
            winners.append(compare(pop, draws[2 * t], draws[2 * t + 1], rule: rule, random: &random))
        }
        return (0..<matings).map { (winners[2 * $0], winners[2 * $0 + 1]) }
    }

    static func compare(_ pop: [Individual], _ a: Int, _ b: Int, rule: Rule, random: inout SplitMix) -> Int {
        let x = pop[a], y = pop[b]
        func pick(_ u: Double, _ v: Double, smallerWins: Bool) -> Int? {
            if u == v { return nil }
            return (u < v) == smallerWins ? a : b
        }
        if x.violation > 0 || y.violation > 0 {
            return pick(x.violation, y.violation, smallerWins: true) ?? (random.next(2) == 0 ? a : b)
        }
        switch rule {
        case .dominationAndCrowding:
            if Dominance.dominates(x.objectives, y.objectives) { return a }
            if Dominance.dominates(y.objectives, x.objectives) { return b }
        case .rankAndCrowding:
            if let w = pick(Double(x.rank), Double(y.rank), smallerWins: true) { return w }
        }
        return pick(x.crowding, y.crowding, smallerWins: false) ?? (random.next(2) == 0 ? a : b)
    }

    /// A uniformly random permutation of 0..<n (Fisher-Yates).
    static func permutation(_ n: Int, random: inout SplitMix) -> [Int] {
        var p = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, random.next(i + 1)) }
        return p
    }
}
