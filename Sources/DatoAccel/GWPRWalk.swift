extension GWPR {
    /// The settings of G-WPR's power iteration and the changes made to the attention map before it
    /// (docs/methods/atedm.md, "Ranking: G-WPR"). The defaults are the product's reading (at-edm.md section 4):
    /// the head-mean map as it is, s <- A^T s from 1/N, no damping, at most 10 iterations. AT-EDM uses
    /// `atedmDefault` unless told otherwise.
    public struct Walk: Sendable, Equatable {
        /// Power iterations at most, and the L1 change below which the iteration stops.
        public var iterations: Int
        public var tolerance: Float
        /// s <- A^T s (`received`) or s <- A s (`given`).
        public var direction: Direction
        /// PageRank's damping d in s <- d M s + (1 - d) / N; 1 = none.
        public var damping: Float = 1
        /// Whether a token's attention to itself (the map's diagonal) counts. Without it the diagonal is
        /// zeroed and each row rescaled to sum 1 again, so a token gains score only from other tokens.
        public var selfAttention = true
        /// Rescale each column of the map to sum 1 (every key's received attention) before the walk.
        public var columnNormalized = false

        /// The received-attention walk on the map as it is, with these iteration settings.
        public init(iterations: Int = 10, tolerance: Float = 1e-4, direction: Direction = .received) {
            self.iterations = iterations
            self.tolerance = tolerance
            self.direction = direction
        }

        /// The walks `gwpr=` names. `received`: s <- A^T s on the map (a token gains from the attention it
        /// receives); `given`: s <- A s on the map (stays uniform on a row-stochastic map); `reverse`: s <- C s,
        /// C = A with each column rescaled to sum 1, the walk on the reversed attention graph (mass moves from a
        /// key to the queries attending to it, so a token gains by attending to high-scoring tokens).
        public enum Kind: String, Sendable, Equatable, CaseIterable { case received, given, reverse }

        /// Sets the direction and map normalisation of `kind`; the other settings stay.
        public mutating func set(_ kind: Kind) {
            direction = kind == .received ? .received : .given
            columnNormalized = kind == .reverse
        }

        /// AT-EDM's default (docs/methods/atedm.md): the reverse walk on the map without its diagonal. Not the
        /// received-attention semantics of Zero-TPrune's WPR; chosen because it measures better on the demo model.
        public static let atedmDefault: Walk = {
            var w = Walk()
            w.set(.reverse)
            w.selfAttention = false
            return w
        }()

        /// The walk's map W = R^-1 (A - D) K^-1 as factors of the map A, so that W need not be formed.
        /// Without `selfAttention`, D = diag(A) and R = diag(row sums of A - D); otherwise D = 0 and R = I. With
        /// `columnNormalized`, K = diag(column sums of R^-1 (A - D)); otherwise K = I. nil stands for I or 0;
        /// a row or column that sums to 0 gets scale 0 (it stays 0).
        struct Factors {
            var rowScale: [Float]?
            var columnScale: [Float]?
            var diagonal: [Float]?
        }

        /// The factors of this walk's map for the N x N map `a` (two passes over `a` at most).
        func factors(_ a: UnsafePointer<Float>, n: Int) -> Factors {
            var f = Factors()
            func inverse(_ x: Float) -> Float { x > 0 ? 1 / x : 0 }
            if !selfAttention {
                let d = (0..<n).map { a[$0 * n + $0] }
                var rows = [Float](repeating: 0, count: n)
                GWPR.multiply(a, n: n, transposed: false, [Float](repeating: 1, count: n), into: &rows)
                f.diagonal = d
                f.rowScale = (0..<n).map { inverse(rows[$0] - d[$0]) }
            }
            if columnNormalized {
                let r = f.rowScale ?? [Float](repeating: 1, count: n)
                var columns = [Float](repeating: 0, count: n)
                GWPR.multiply(a, n: n, transposed: true, r, into: &columns)
                if let d = f.diagonal { for j in 0..<n { columns[j] -= d[j] * r[j] } }
                f.columnScale = columns.map(inverse)
            }
            return f
        }
    }
}
