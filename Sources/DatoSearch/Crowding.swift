/// pymoo's crowding distance ("cd") of one front (docs/methods/search.md).
public enum Crowding {
    /// Per point: the mean over objectives of the normalised gap between its neighbours in that objective;
    /// boundary points +inf; fronts of at most two points all +inf; a constant objective adds 0.
    public static func distances(_ front: [[Double]]) -> [Double] {
        let n = front.count
        guard n > 2 else { return [Double](repeating: .infinity, count: n) }
        let m = front[0].count
        var d = [Double](repeating: 0, count: n)
        for k in 0..<m {
            // Stable sort by objective k (pymoo sorts with mergesort).
            let values: [Double] = front.map { $0[k] }
            let order: [Int] = (0..<n).sorted { (a: Int, b: Int) -> Bool in values[a] < values[b] || (values[a] == values[b] && a < b) }
            let norm: Double = values[order[n - 1]] - values[order[0]]
            guard norm > 0 else { continue }
            d[order[0]] = .infinity
            d[order[n - 1]] = .infinity
            for i in 1..<(n - 1) where d[order[i]].isFinite {
                let gap: Double = values[order[i + 1]] - values[order[i - 1]]
                d[order[i]] += gap / norm
            }
        }
        return d.map { $0.isFinite ? $0 / Double(m) : $0 }
    }
}
