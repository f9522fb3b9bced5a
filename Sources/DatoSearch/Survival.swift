import DatoCore

/// pymoo's `RankAndCrowding` survival with infeasible solutions filtered (docs/methods/search.md): whole fronts of
/// feasible solutions while they fit, the splitting front truncated by crowding (ties at random), then the
/// least-violating infeasible solutions.
public enum Survival {
    public static func select(_ pop: [Individual], count: Int, random: inout SplitMix) -> [Individual] {
        var feasible = pop.filter { $0.violation <= 0 }
        let infeasible = pop.enumerated().filter { $0.element.violation > 0 }
            .sorted { $0.element.violation < $1.element.violation || ($0.element.violation == $1.element.violation && $0.offset < $1.offset) }
            .map(\.element)
        var survivors: [Individual] = []
        let fronts = Dominance.nonDominatedFronts(feasible.map(\.objectives))
        for (rank, front) in fronts.enumerated() {
            guard survivors.count < count else { break }
            let crowding = Crowding.distances(front.map { feasible[$0].objectives })
            for (i, index) in front.enumerated() {
                feasible[index].rank = rank
                feasible[index].crowding = crowding[i]
            }
            var members = front.map { feasible[$0] }
            if survivors.count + members.count > count {
                // Largest crowding first, ties broken at random.
                let keys = members.map { _ in random.nextUniform() }
                let order = members.indices.sorted {
                    members[$0].crowding > members[$1].crowding || (members[$0].crowding == members[$1].crowding && keys[$0] < keys[$1])
                }
                members = order.prefix(count - survivors.count).map { members[$0] }
            }
            survivors += members
        }
        for var s in infeasible where survivors.count < count {
            s.rank = Int.max
            s.crowding = 0
            survivors.append(s)
        }
        return survivors
    }
}
