/// The mean of the squared differences of two equally long lists of values (0 for empty lists).
public func meanSquaredError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "meanSquaredError: \(a.count) against \(b.count) values")
    let sum = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
    return sum / Double(max(a.count, 1))
}
