/// The text forms journals store lists of numbers in ("0.25,1"), and their checked reading.
public enum JournalText {
    /// Numbers joined by commas, each as Swift prints a Double.
    public static func list(_ v: [Double]) -> String { v.map { String($0) }.joined(separator: ",") }

    /// Reads a stored list: `count` values, each finite (and an integer when `integers`); anything else is
    /// the error `fail` makes of the problem.
    public static func numbers(_ t: String, count: ClosedRange<Int>, integers: Bool = false, fail: (String) -> Error) throws -> [Double] {
        let parts = t.isEmpty ? [] : t.split(separator: ",", omittingEmptySubsequences: false)
        let shown = "'\(t.prefix(60))\(t.count > 60 ? "..." : "")'"
        guard count.contains(parts.count) else {
            throw fail("\(shown) holds \(parts.count) values, expected \(count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound) to \(count.upperBound)")")
        }
        return try parts.map { part in
            guard let v = Double(part), v.isFinite else { throw fail("\(shown) holds '\(part.prefix(30))', not a finite number") }
            guard !integers || (v == v.rounded() && abs(v) < 1e15) else { throw fail("\(shown) holds \(part.prefix(30)), not an integer gene") }
            return v
        }
    }
}
