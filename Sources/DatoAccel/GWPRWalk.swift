extension GWPR {
    /// The settings of G-WPR's power iteration and the changes made to the attention map before it
    /// (docs/methods/atedm.md, "Ranking: G-WPR"). The defaults are the product's reading (at-edm.md section 4):
    /// the head-mean map as it is, s <- A^T s from 1/N, no damping, at most 10 iterations.
    public struct Walk: Sendable, Equatable {
        /// Power iterations at most, and the L1 change below which the iteration stops.
        public var iterations = 10
        public var tolerance: Float = 1e-4
        /// s <- A^T s (`received`) or s <- A s (`given`).
        public var direction = Direction.received
        /// PageRank's damping d in s <- d M s + (1 - d) / N; 1 = none.
        public var damping: Float = 1
        /// Whether a token's attention to itself (the map's diagonal) counts. Without it the diagonal is
        /// zeroed and each row rescaled to sum 1 again, so a token gains score only from other tokens.
        public var selfAttention = true
        /// Rescale each column of the map to sum 1 (every key's received attention) before the walk.
        public var columnNormalized = false

        public init() {}

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

        /// The map the walk runs on when it differs from `a` (nil: `a` as it is): diagonal removed and rows
        /// rescaled (`selfAttention == false`), then columns rescaled (`columnNormalized`). A row or column
        /// that sums to 0 stays 0.
        func prepared(_ a: UnsafePointer<Float>, n: Int) -> [Float]? {
            guard !selfAttention || columnNormalized else { return nil }
            var m = Array(UnsafeBufferPointer(start: a, count: n * n))
            if !selfAttention {
                for i in 0..<n {
                    m[i * n + i] = 0
                    let total = m[(i * n)..<(i * n + n)].reduce(0, +)
                    if total > 0 { for j in 0..<n { m[i * n + j] /= total } }
                }
            }
            if columnNormalized {
                var column = [Float](repeating: 0, count: n)
                for i in 0..<n { for j in 0..<n { column[j] += m[i * n + j] } }
                for i in 0..<n { for j in 0..<n where column[j] > 0 { m[i * n + j] /= column[j] } }
            }
            return m
        }
    }
}
