import DatoCore
import DatoModels

/// Token counts one transformer layer ran with in a call: self-attention queries and keys/values,
/// cross-attention queries and feed-forward rows (all N when dense).
public struct LayerTokens: Sendable, Equatable {
    public var selfQueries: Int, selfKeys: Int, cross: Int, ffn: Int

    public init(selfQueries: Int, selfKeys: Int, cross: Int, ffn: Int) {
        self.selfQueries = selfQueries; self.selfKeys = selfKeys; self.cross = cross; self.ffn = ffn
    }

    /// All sub-layers on `n` tokens.
    public static func dense(_ n: Int) -> LayerTokens { LayerTokens(selfQueries: n, selfKeys: n, cross: n, ffn: n) }
}

/// A token-pruning method driven through a denoising run. `AcceleratedUNet` owns one per run, calls
/// `begin(call:step:ratio:)` before and `end(call:output:)` after every UNet call, and passes it with each call
/// (`UNetHooks.tokenReducer`); the UNet consults it per transformer block.
public protocol PruningPolicy: TokenReducer {
    /// Forgets everything from earlier runs; `steps` is the run's number of denoising steps and `cfg` says
    /// whether the batch is [uncond rows; cond rows].
    func reset(steps: Int, cfg: Bool)
    /// UNet call `k` of step `step` (the scheduler's `stepIndex(ofCall:)`) with the step's prune ratio.
    func begin(call k: Int, step: Int, ratio: Double)
    /// The raw output of call `k` (all batch rows, before guidance).
    func end(call k: Int, output: Tensor)
    /// Token counts of the layers that ran reduced in the current call, by diffusers path.
    var tokenLog: [String: LayerTokens] { get }
}

/// Per-call bookkeeping shared by the policies.
struct CallState {
    var call = -1, step = 0, steps = 1
    var ratio = 0.0
    var log: [String: LayerTokens] = [:]

    mutating func begin(call k: Int, step: Int, ratio: Double) {
        call = k; self.step = step; self.ratio = ratio; log = [:]
    }
}

/// Unit-normalised copies of token rows (cosine-similarity metric), computed in fp32.
enum TokenMetric {
    /// Rows `rows` of batch row `b` of x [B, N, C], each divided by max(||row||, 1e-12), packed into `out`.
    static func normalized(_ x: Tensor, batch b: Int, rows: [Int], into out: UnsafeMutablePointer<Float>) {
        let n = x.dim(1), c = x.dim(2)
        Parallel.chunks(rows.count, minimumPerThread: 64) { r in
            for i in r {
                let p = x.data + (b * n + rows[i]) * c, q = out + i * c
                var norm: Float = 0
                for k in 0..<c { norm += p[k] * p[k] }
                let inv = 1 / max(norm.squareRoot(), 1e-12)
                for k in 0..<c { q[k] = p[k] * inv }
            }
        }
    }

    /// For each row of `a` (rows of x), the index into `b` of its most similar row and that similarity;
    /// ties go to the lower index. `options` say how the search runs (the same result either way).
    static func nearest(_ x: Tensor, batch bi: Int, from a: [Int], among b: [Int],
                        options: NearestSearch.Options) -> (index: [Int], similarity: [Float]) {
        let c = x.dim(2)
        guard !a.isEmpty, !b.isEmpty else { return ([Int](repeating: 0, count: a.count), [Float](repeating: -.infinity, count: a.count)) }
        let pa = UnsafeMutablePointer<Float>.allocate(capacity: a.count * c)
        let pb = UnsafeMutablePointer<Float>.allocate(capacity: b.count * c)
        defer { pa.deallocate(); pb.deallocate() }
        normalized(x, batch: bi, rows: a, into: pa)
        normalized(x, batch: bi, rows: b, into: pb)
        return NearestSearch.nearest(pa, count: a.count, among: pb, count: b.count, width: c, options: options)
    }
}
