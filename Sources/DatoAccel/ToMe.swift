import DatoCore
import DatoModels
import Foundation

/// Token Merging for SD (tomesd 0.1.3, docs/methods/tome.md): in blocks whose downsample factor is at most
/// `maxDownsample`, merge the `ratio` most redundant tokens into one destination token per sx x sy window
/// (mean), run the chosen sub-layers on the merged tokens, and copy results back (unmerge).
public final class ToMe: PruningPolicy {
    public struct Settings: Sendable, Equatable {
        public var ratio: Double = 0.5
        public var maxDownsample = 1
        public var sx = 2, sy = 2
        /// Random destination per window (own stream); false takes the top-left token, as tomesd's use_rand=False.
        public var useRand = true
        public var mergeAttention = true, mergeCrossAttention = false, mergeMLP = false
        public var seed: UInt64 = 0
        public init() {}
    }

    public var settings: Settings
    private var calls = 0
    private var state = CallState()

    /// How its nearest-token searches run (the model's `ComputeSettings.similarity`).
    public let similarity: NearestSearch.Options

    public init(settings: Settings = Settings(), similarity: NearestSearch.Options = NearestSearch.Options()) {
        self.settings = settings
        self.similarity = similarity
    }

    public func reset(steps: Int, cfg: Bool) { calls = 0; state = CallState() }
    public func begin(call k: Int, step: Int, ratio: Double) {
        state.begin(call: k, step: step, ratio: ratio)
        settings.ratio = ratio
    }
    public func end(call k: Int, output: Tensor) {}
    public var tokenLog: [String: LayerTokens] { state.log }

    public func tokens(for x: Tensor, at site: TransformerBlockSite) throws -> BlockTokens? {
        guard let m = reduction(at: site, input: x) else { return nil }
        let n = x.dim(1), k = n - m.merged[0].count
        state.log[site.path] = LayerTokens(selfQueries: m.attention ? k : n, selfKeys: m.attention ? k : n,
                                           cross: m.crossAttention ? k : n, ffn: m.mlp ? k : n)
        return m.blockTokens
    }

    /// The merge for one block call, nil when the block is not merged (downsample gate, r = 0).
    func reduction(at site: TransformerBlockSite, input x: Tensor) -> BipartiteMerge? {
        let s = settings
        let n = x.dim(1), n0 = site.latent.h * site.latent.w
        let downsample = Int(Double(n0 / max(n, 1)).squareRoot().rounded(.up))
        guard downsample <= s.maxDownsample else { return nil }
        let r = Int(Double(n) * s.ratio)
        guard r > 0 else { return nil }
        calls += 1
        var rng = SplitMix(seed: s.seed ^ UInt64(calls) &* 0x9e37_79b9_7f4a_7c15)
        let random = s.useRand && x.dim(0) % 2 == 0   // odd batches take the top-left token (tomesd 0.1.3)
        let partition = Self.partition(h: site.grid.h, w: site.grid.w, sx: s.sx, sy: s.sy) { random ? rng.next(s.sx * s.sy) : 0 }
        return BipartiteMerge(metric: x, partition: partition, r: r,
                              flags: (s.mergeAttention, s.mergeCrossAttention, s.mergeMLP), search: similarity)
    }

    /// Destination and source token indices: one destination per complete sx x sy window at in-window index
    /// `choose()` (row-major), everything else a source; both ascending.
    static func partition(h: Int, w: Int, sx: Int, sy: Int, choose: () -> Int) -> (dst: [Int], src: [Int]) {
        var isDst = [Bool](repeating: false, count: h * w)
        for i in 0..<(h / sy) {
            for j in 0..<(w / sx) {
                let q = choose()
                isDst[(sy * i + q / sx) * w + sx * j + q % sx] = true
            }
        }
        return (isDst.indices.filter { isDst[$0] }, isDst.indices.filter { !isDst[$0] })
    }
}

/// ToMe's bipartite soft matching for one block call: per batch row, each source token's most similar
/// destination (cosine), and the r sources with the highest similarity merged into it.
struct BipartiteMerge: TokenReduction {
    let attention: Bool, crossAttention: Bool, mlp: Bool
    let dst: [Int], src: [Int]
    /// Per batch row: unmerged sources (positions in `src`), merged sources and the destination each joins.
    let unmerged: [[Int]], merged: [[Int]], target: [[Int]]
    let tokens: Int
    /// Destinations average the sources merged into them: not a plain pick of rows.
    var picksRows: Bool { false }

    init(metric x: Tensor, partition: (dst: [Int], src: [Int]), r requested: Int, flags: (Bool, Bool, Bool),
         search: NearestSearch.Options) {
        (attention, crossAttention, mlp) = flags
        let (dst, src) = partition
        let n = x.dim(1), b = x.dim(0)
        let r = min(requested, src.count)
        var unm: [[Int]] = [], mer: [[Int]] = [], tgt: [[Int]] = []
        for bi in 0..<b {
            // Each source token's most similar destination (cosine), then the r best-matched sources merge.
            let (arg, best) = TokenMetric.nearest(x, batch: bi, from: src, among: dst, options: search)
            // Highest similarity first; ties by lower index.
            let order = src.indices.sorted { best[$0] > best[$1] || (best[$0] == best[$1] && $0 < $1) }
            mer.append(Array(order.prefix(r)))
            tgt.append(order.prefix(r).map { arg[$0] })
            unm.append(Array(order.dropFirst(r)))
        }
        self.dst = dst; self.src = src; tokens = n
        unmerged = unm; merged = mer; target = tgt
    }

    /// [unmerged sources; destinations averaged with the sources merged into them].
    func merge(_ y: Tensor) -> Tensor {
        let b = y.dim(0), c = y.dim(2), keep = unmerged.first?.count ?? 0
        let out = Tensor(shape: [b, keep + dst.count, c])
        for bi in 0..<b {
            let yp = y.data + bi * tokens * c, op = out.data + bi * (keep + dst.count) * c
            for (i, si) in unmerged[bi].enumerated() { (op + i * c).update(from: yp + src[si] * c, count: c) }
            var counts = [Float](repeating: 1, count: dst.count)
            for (j, d) in dst.enumerated() { (op + (keep + j) * c).update(from: yp + d * c, count: c) }
            for (k, si) in merged[bi].enumerated() {
                let j = target[bi][k]
                let row = op + (keep + j) * c, s = yp + src[si] * c
                for e in 0..<c { row[e] += s[e] }
                counts[j] += 1
            }
            for j in 0..<dst.count where counts[j] > 1 {
                let row = op + (keep + j) * c
                for e in 0..<c { row[e] /= counts[j] }
            }
        }
        return out
    }

    /// Full-length rows: destinations and unmerged sources from their own rows, merged sources copy their destination.
    func unmerge(_ z: Tensor) -> Tensor {
        let b = z.dim(0), c = z.dim(2), keep = unmerged.first?.count ?? 0
        let out = Tensor(shape: [b, tokens, c], zeroed: false)
        for bi in 0..<b {
            let zp = z.data + bi * (keep + dst.count) * c, op = out.data + bi * tokens * c
            for (j, d) in dst.enumerated() { (op + d * c).update(from: zp + (keep + j) * c, count: c) }
            for (i, si) in unmerged[bi].enumerated() { (op + src[si] * c).update(from: zp + i * c, count: c) }
            for (k, si) in merged[bi].enumerated() { (op + src[si] * c).update(from: zp + (keep + target[bi][k]) * c, count: c) }
        }
        return out
    }
}
