import DatoCore
import DatoModels

/// DaTo, dynamics-aware token pruning (docs/methods/dato.md): per 2x2 window one base token chosen by the
/// dynamics of the last two UNet outputs plus seeded noise; the non-base tokens most similar to a base token
/// are pruned; self-attention (and optionally cross-attention / FFN) runs on the kept tokens, and each pruned
/// token copies the output of its most similar kept token.
public final class DaTo: PruningPolicy {
    public struct Settings: Sendable, Equatable {
        /// Levels that prune (0 = the latent grid).
        public var levels: Set<Int> = [0]
        /// Base score s = sign * gamma * D + alpha * z.
        public var gamma: Float = 1, alpha: Float = 0.1
        /// Normalise D to mean 1 per row (the reference uses raw D).
        public var normalizeDynamics = true
        /// Negate gamma with probability 1/2 on every pruned block call (the reference release's behaviour).
        public var randomSign = false
        /// The reference's "local random" base pattern: a uniform choice per window shared by every row and
        /// block of a call, ignoring D.
        public var localRandom = false
        /// Under CFG, cond rows take the base positions of their uncond rows.
        public var alignCFG = true
        public var pruneSelfAttention = true, pruneCrossAttention = false, pruneFFN = false
        public var seed: UInt64 = 0
        public init() {}

        /// The reference release's `apply_patch` defaults (docs/methods/dato.md, "reference"): raw D, gamma = alpha = 0.1,
        /// random sign, local-random base pattern, level 0 only.
        public static var referenceCompatible: Settings {
            var s = Settings()
            s.gamma = 0.1; s.alpha = 0.1
            s.normalizeDynamics = false
            s.randomSign = true
            s.localRandom = true
            return s
        }
    }

    public var settings: Settings
    private var state = CallState()
    private var dynamics = Dynamics()
    private var cfg = false

    /// How its nearest-token searches run (the model's `ComputeSettings.similarity`).
    public let similarity: NearestSearch.Options

    public init(settings: Settings = Settings(), similarity: NearestSearch.Options = NearestSearch.Options()) {
        self.settings = settings
        self.similarity = similarity
    }

    public func reset(steps: Int, cfg: Bool) {
        self.cfg = cfg
        state = CallState()
        state.steps = steps
        dynamics = Dynamics()
    }


    public func begin(call k: Int, step: Int, ratio: Double) { state.begin(call: k, step: step, ratio: ratio) }
    public func end(call k: Int, output: Tensor) { dynamics.record(output, normalize: settings.normalizeDynamics) }
    public var tokenLog: [String: LayerTokens] { state.log }

    public func tokens(for x: Tensor, at site: TransformerBlockSite) throws -> BlockTokens? {
        let s = settings
        guard s.levels.contains(site.level), state.ratio > 0 else { return nil }
        let (h, w) = site.grid, rows = x.dim(0), n = h * w
        guard x.dim(1) == n else { return nil }
        let scores = baseScores(grid: site.grid, rows: rows, path: site.path)
        guard var sel = Self.partition(x, grid: site.grid, scores: scores, ratio: state.ratio,
                                       alignCFG: s.alignCFG && cfg && rows % 2 == 0, search: similarity)?.selection
        else { return nil }
        sel.attention = s.pruneSelfAttention
        sel.crossAttention = s.pruneCrossAttention
        sel.mlp = s.pruneFFN
        let k = sel.keptCount
        state.log[site.path] = LayerTokens(selfQueries: sel.attention ? k : n, selfKeys: sel.attention ? k : n,
                                           cross: sel.crossAttention ? k : n, ffn: sel.mlp ? k : n)
        return sel.blockTokens
    }

    /// Base scores per row and token: sign * gamma * D + alpha * z with z from the block's own stream.
    func baseScores(grid: (h: Int, w: Int), rows: Int, path: String) -> [[Float]] {
        let s = settings, n = grid.h * grid.w
        if s.localRandom {
            // One uniform choice per window, shared by every row and block of the call: a one-hot score.
            var rng = SplitMix(key: s.seed, 0x10ca1, UInt64(state.call))
            var score = [Float](repeating: 0, count: n)
            for i in 0..<(grid.h / 2) {
                for j in 0..<(grid.w / 2) {
                    let q = rng.next(4)
                    score[(2 * i + q / 2) * grid.w + 2 * j + q % 2] = 1
                }
            }
            return Array(repeating: score, count: rows)
        }
        var rng = SplitMix(key: s.seed, 0xda70, UInt64(state.call), SplitMix.hash(path))
        var sign: Float = 1
        if s.randomSign && rng.next(2) == 1 { sign = -1 }
        let d = dynamics.signal(grid: grid, rows: rows)
        return (0..<rows).map { r in
            (0..<n).map { t in
                let z = rng.nextNormal()
                guard let d else { return z }
                return sign * s.gamma * d[r][t] + s.alpha * z
            }
        }
    }

    /// The partition (docs/methods/dato.md) for x [B, N, C] on a (h, w) grid: base tokens per 2x2 window
    /// (argmax of `scores`, ties to the lower in-window index; cond rows copy uncond rows' bases when
    /// `alignCFG`), the P = min(floor(r N), N - W) non-base tokens most similar to a base token pruned (ties
    /// to the lower index), each recovered from its most similar kept token. nil when P <= 0. `search` says how
    /// the nearest-token searches run.
    public static func partition(_ x: Tensor, grid: (h: Int, w: Int), scores: [[Float]], ratio: Double,
                                 alignCFG: Bool, search: NearestSearch.Options = NearestSearch.Options())
        -> (base: [[Int]], pruned: [[Int]], selection: TokenSelection)? {
        let (h, w) = grid, n = h * w, rows = x.dim(0)
        let windows = (h / 2) * (w / 2)
        let p = min(Int((ratio * Double(n)).rounded(.down)), n - windows)
        guard p > 0 else { return nil }
        var bases: [[Int]] = []
        for r in 0..<rows {
            if alignCFG && r >= rows / 2 { bases.append(bases[r - rows / 2]); continue }
            var base: [Int] = []
            base.reserveCapacity(windows)
            for i in 0..<(h / 2) {
                for j in 0..<(w / 2) {
                    var best = 0, bestScore = -Float.infinity
                    for q in 0..<4 {
                        let t = (2 * i + q / 2) * w + 2 * j + q % 2
                        if scores[r][t] > bestScore { bestScore = scores[r][t]; best = t }
                    }
                    base.append(best)
                }
            }
            bases.append(base.sorted())
        }
        var kept: [[Int]] = [], pruned: [[Int]] = [], recovery: [[Int]] = []
        for r in 0..<rows {
            var isBase = [Bool](repeating: false, count: n)
            for t in bases[r] { isBase[t] = true }
            let nonBase = (0..<n).filter { !isBase[$0] }
            let toBase = TokenMetric.nearest(x, batch: r, from: nonBase, among: bases[r], options: search)
            let red = toBase.similarity
            let order = nonBase.indices.sorted { red[$0] > red[$1] || (red[$0] == red[$1] && nonBase[$0] < nonBase[$1]) }
            var isPruned = [Bool](repeating: false, count: n)
            for i in order.prefix(p) { isPruned[nonBase[i]] = true }
            let k = (0..<n).filter { !isPruned[$0] }, pr = (0..<n).filter { isPruned[$0] }
            // The most similar kept token is the better of the most similar base token (known from the first
            // search) and the most similar kept non-base token: only pruned x kept non-base is computed.
            var rowOf = [Int](repeating: 0, count: n)
            for (i, t) in nonBase.enumerated() { rowOf[t] = i }
            let keptNonBase = nonBase.filter { !isPruned[$0] }
            let toKept = TokenMetric.nearest(x, batch: r, from: pr, among: keptNonBase, options: search)
            var rec = Array(0..<n)
            for (i, t) in pr.enumerated() {
                let b = bases[r][toBase.index[rowOf[t]]], sb = red[rowOf[t]]
                guard !keptNonBase.isEmpty else { rec[t] = b; continue }
                let o = keptNonBase[toKept.index[i]], so = toKept.similarity[i]
                rec[t] = so > sb || (so == sb && o < b) ? o : b
            }
            kept.append(k); pruned.append(pr); recovery.append(rec)
        }
        return (bases, pruned, TokenSelection(kept: kept, recovery: recovery, tokens: n))
    }
}
