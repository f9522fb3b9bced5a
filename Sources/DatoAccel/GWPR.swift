import COpenBLAS
import DatoCore

/// AT-EDM's token ranking (docs/methods/atedm.md): generalised weighted PageRank on an attention map, the
/// top-k mask, and the kept token each pruned token attends to most.
public enum GWPR {
    /// The power iteration's direction on a row-stochastic map A (rows = queries): `received` iterates
    /// s <- A^T s (a token scores by the attention it receives, weighted by its senders' scores); `given`
    /// iterates s <- A s, which leaves the uniform start unchanged up to rounding.
    public enum Direction: String, Sendable, Equatable, CaseIterable { case received, given }

    private static let blasSingleThreaded: Void = { openblas_set_num_threads(1) }()

    /// The power iteration of `walk` on the row-stochastic N x N map `a` (rows = queries): from s = 1/N,
    /// s <- d M s + (1 - d) / N, renormalised to sum 1, until the L1 change is below `tolerance` or `iterations`
    /// ran, with d = `damping` and M = W^T (`received`) or W (`given`), W the map after `walk`'s changes:
    /// W = R^-1 (A - D) K^-1 (`Walk.Factors`). W is never formed: each step is one pass over A.
    public static func scores(_ a: UnsafePointer<Float>, n: Int, walk: Walk) -> [Float] {
        _ = blasSingleThreaded
        let f = walk.factors(a, n: n), received = walk.direction == .received
        // given: W s = R^-1 (A (K^-1 s) - D K^-1 s); received: W^T s = K^-1 (A^T (R^-1 s) - D R^-1 s).
        let before = received ? f.rowScale : f.columnScale, after = received ? f.columnScale : f.rowScale
        let teleport = (1 - walk.damping) / Float(n)
        var s = [Float](repeating: 1 / Float(n), count: n)
        var v = s, next = s
        for _ in 0..<walk.iterations {
            for i in 0..<n { v[i] = s[i] * (before?[i] ?? 1) }
            multiply(a, n: n, transposed: received, v, into: &next)
            if let d = f.diagonal { for i in 0..<n { next[i] -= d[i] * v[i] } }
            if let scale = after { for i in 0..<n { next[i] *= scale[i] } }
            let total = next.reduce(0, +)
            let inv = total > 0 ? 1 / total : 0
            var change: Float = 0
            for i in 0..<n {
                next[i] = walk.damping * next[i] * inv + teleport
                change += abs(next[i] - s[i])
            }
            swap(&s, &next)
            if change < walk.tolerance { break }
        }
        return s
    }

    /// y = A^T x (`transposed`) or A x for the N x N row-major `a`, in column or row blocks across threads.
    static func multiply(_ a: UnsafePointer<Float>, n: Int, transposed: Bool, _ x: [Float], into y: inout [Float]) {
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                guard let xb = xp.baseAddress, let yb = yp.baseAddress else { return }
                Parallel.chunks(n, minimumPerThread: 256) { r in
                    if transposed {
                        // Column block: y[c0..<c1] = A[:, c0..<c1]^T x.
                        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(n), Int32(r.count), 1, a + r.lowerBound, Int32(n),
                                    xb, 1, 0, yb + r.lowerBound, 1)
                    } else {
                        // Row block: y[r0..<r1] = A[r0..<r1, :] x.
                        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(r.count), Int32(n), 1, a + r.lowerBound * n, Int32(n),
                                    xb, 1, 0, yb + r.lowerBound, 1)
                    }
                }
            }
        }
    }

    /// The N - P tokens with the highest score (ties to the lower index), ascending.
    public static func keep(_ s: [Float], pruning p: Int) -> [Int] {
        let order = s.indices.sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }
        return order.prefix(s.count - p).sorted()
    }

    /// For each token in `pruned`, the kept token whose column in its row of `a` is largest (ties to the
    /// lower index).
    public static func attendedSources(_ a: UnsafePointer<Float>, n: Int, kept: [Int], pruned: [Int]) -> [Int] {
        pruned.map { p in
            let row = a + p * n
            var best = kept[0], m = row[kept[0]]
            for j in kept.dropFirst() where row[j] > m { m = row[j]; best = j }
            return best
        }
    }
}
