import Foundation

/// pymoo's variation operators on float genes (docs/methods/search.md).
public enum Operators {
    /// SBX for one variable pair with uniform `u` (pymoo's SBX): the two children, child 1 near parent 1.
    public static func sbx(_ p1: Double, _ p2: Double, lower xl: Double, upper xu: Double, eta: Double, u: Double) -> (Double, Double) {
        let y1 = min(p1, p2), y2 = max(p1, p2), delta = y2 - y1
        func betaq(_ beta: Double) -> Double {
            let alpha = 2 - pow(beta, -(eta + 1))
            return u <= 1 / alpha ? pow(u * alpha, 1 / (eta + 1)) : pow(1 / (2 - u * alpha), 1 / (eta + 1))
        }
        let c1 = 0.5 * ((y1 + y2) - betaq(1 + 2 * (y1 - xl) / delta) * delta)
        let c2 = 0.5 * ((y1 + y2) + betaq(1 + 2 * (xu - y2) / delta) * delta)
        return p1 < p2 ? (c1, c2) : (c2, c1)
    }

    /// Polynomial mutation of one variable with uniform `u` (pymoo's PM), clamped to the bounds.
    public static func polynomialMutation(_ x: Double, lower xl: Double, upper xu: Double, eta: Double, u: Double) -> Double {
        let range = xu - xl
        let d1 = (x - xl) / range, d2 = (xu - x) / range, p = 1 / (eta + 1)
        let dq: Double
        if u <= 0.5 {
            dq = pow(2 * u + (1 - 2 * u) * pow(1 - d1, eta + 1), p) - 1
        } else {
            dq = 1 - pow(2 * (1 - u) + 2 * (u - 0.5) * pow(1 - d2, eta + 1), p)
        }
        return min(xu, max(xl, x + dq * range))
    }

    /// numpy's `around`: round half to even.
    public static func roundHalfEven(_ x: Double) -> Double { x.rounded(.toNearestOrEven) }
}
