/// Pareto dominance and Deb's fast non-dominated sort (docs/methods/search.md).
public enum Dominance {
    /// a dominates b: no worse in every objective and better in at least one (minimisation).
    public static func dominates(_ a: [Double], _ b: [Double]) -> Bool {
        var better = false
        for (x, y) in zip(a, b) {
            if x > y { return false }
            if x < y { better = true }
        }
        return better
    }

    /// Fronts of indices into `points`, best first; equal points share a front.
    public static func nonDominatedFronts(_ points: [[Double]]) -> [[Int]] {
        let n = points.count
        var dominated = [[Int]](repeating: [], count: n)
        var count = [Int](repeating: 0, count: n)
        var fronts: [[Int]] = [[]]
        for p in 0..<n {
            for q in (p + 1)..<max(n, p + 1) {
                if dominates(points[p], points[q]) {
                    dominated[p].append(q); count[q] += 1
                } else if dominates(points[q], points[p]) {
                    dominated[q].append(p); count[p] += 1
                }
            }
        }
        for p in 0..<n where count[p] == 0 { fronts[0].append(p) }
        while let current = fronts.last, !current.isEmpty {
            var next: [Int] = []
            for p in current {
                for q in dominated[p] {
                    count[q] -= 1
                    if count[q] == 0 { next.append(q) }
                }
            }
            fronts.append(next.sorted())
        }
        fronts.removeLast()
        return fronts
    }
}
