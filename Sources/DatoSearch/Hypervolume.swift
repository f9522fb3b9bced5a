/// Two-objective hypervolume against a reference point (docs/methods/search.md).
public enum Hypervolume {
    public static func twoObjectives(_ points: [[Double]], reference r: (Double, Double)) -> Double {
        let inside = points.filter { $0[0] < r.0 && $0[1] < r.1 }
            .sorted { $0[0] < $1[0] || ($0[0] == $1[0] && $0[1] < $1[1]) }
        var volume = 0.0, previous = r.1
        for p in inside where p[1] < previous {
            volume += (r.0 - p[0]) * (previous - p[1])
            previous = p[1]
        }
        return volume
    }
}
