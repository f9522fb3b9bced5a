import DatoCore
import DatoModels

/// AT-EDM adapted to SD 1.x (docs/methods/atedm.md): rank tokens by G-WPR on the head-mean map
/// of self-attention, keep the top ones, run cross-attention and the FFN on the kept tokens (inline) or the
/// whole block on a stored mask (temporal), and refill pruned tokens by copy before proj_out.
public final class ATEDM: PruningPolicy {
    /// How a pruned token picks its source: the kept token it attends to most, or the most cosine-similar one.
    public enum Recovery: String, Sendable, Equatable, CaseIterable { case attention, similarity }
    /// The hidden states similarity recovery compares: the block's input, or the stream after self-attention.
    public enum Features: String, Sendable, Equatable, CaseIterable { case input, attn1 }
    /// Where the mask takes effect: after self-attention (cross-attention and the FFN run on the kept tokens),
    /// or after the FFN (the whole block runs on every token, then pruned tokens are refilled; saves nothing on
    /// one-layer blocks).
    public enum MaskPoint: String, Sendable, Equatable, CaseIterable { case attn1, ffn }
    /// The map G-WPR walks on: as the kernel gives it (`rows`: each query's row sums to 1), or rescaled so each
    /// key's column sums to 1 (`columns`; `GWPR.Walk.columnNormalized`).
    public enum MapNormalization: String, Sendable, Equatable, CaseIterable { case rows, columns }
    /// What a pruned token copies: its source's whole state, or only its source's update (added to its own state).
    public enum Copy: String, Sendable, Equatable, CaseIterable { case state, update }
    /// What the two CFG rows of an image share: nothing, the mask (from the mean of their scores), or the mask
    /// and the cond row's sources.
    public enum Sharing: String, Sendable, Equatable, CaseIterable { case none, mask, sources }

    /// The G-WPR scores the CFG rows of an image rank by when they share a mask: the mean of both rows' scores,
    /// or the cond (text-conditioned) row's alone.
    public enum CFGScores: String, Sendable, Equatable, CaseIterable { case mean, cond }

    /// A part of the UNet, by the diffusers path prefix of its blocks.
    public enum Stage: String, Sendable, Equatable, CaseIterable { case down = "down_blocks", mid = "mid_block", up = "up_blocks" }

    public struct Settings: Sendable, Equatable {
        /// Levels that prune (0 = the latent grid).
        public var levels: Set<Int> = [0]
        /// Parts of the UNet that prune (at the levels above).
        public var stages: Set<Stage> = [.down, .mid, .up]
        /// G-WPR's power iteration: iterations, tolerance, direction, damping and the map changes before it
        /// (default: the reverse walk without self-attention, `GWPR.Walk.atedmDefault`).
        public var walk = GWPR.Walk.atedmDefault
        /// Pruned tokens copy the kept token they attend to most, or their most cosine-similar kept token.
        public var recovery = Recovery.similarity
        /// The hidden states `similarity` recovery compares.
        public var features = Features.attn1
        /// Where the mask takes effect.
        public var maskPoint = MaskPoint.attn1
        /// Copy only the source's update (h1[p] + h[src] - h1[src]) instead of its whole state.
        public var copyUpdate = true
        /// Reuse a block's mask on later calls and refresh it every `refreshSteps` steps.
        public var temporal = false
        public var refreshSteps = 5
        /// DSAP: the first ceil(tau S) steps are early; early steps leave the first down / last up attention
        /// block of each stage unpruned (`dsapProtect`) and scale the ratio by `dsapEarlyFactor`.
        public var dsapTau = 0.3
        public var dsapProtect = true
        public var dsapEarlyFactor = 1.0
        /// What the CFG rows of an image share.
        public var cfgSharing = Sharing.sources
        /// The scores a shared mask ranks by: the mean of both CFG rows' scores, or the cond row's alone.
        public var cfgScores = CFGScores.mean
        public init() {}
    }

    public var settings: Settings
    private var state = CallState()
    private var cfg = false
    /// Temporal placement: each block's mask and the step it was computed at.
    private var stored: [String: (selection: TokenSelection, step: Int)] = [:]
    /// Attention modules per down stage (diffusers' layers_per_block), learned from the block paths this run.
    private var downAttentions = 0

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
        stored = [:]
        downAttentions = 0
    }

    public func begin(call k: Int, step: Int, ratio: Double) { state.begin(call: k, step: step, ratio: ratio) }
    public func end(call k: Int, output: Tensor) {}
    public var tokenLog: [String: LayerTokens] { state.log }

    /// The ratio a block uses in the current step (0: dense), after DSAP.
    func ratio(block path: String) -> Double {
        let s = settings
        let early = Double(state.step) < (s.dsapTau * Double(state.steps)).rounded(.up)
        guard early else { return state.ratio }
        if s.dsapProtect && isProtected(path) { return 0 }
        return min(0.95, state.ratio * s.dsapEarlyFactor)
    }

    /// DSAP's protected blocks: the first attention module of each down stage and the last of each up stage
    /// (`down_blocks.D.attentions.0`, `up_blocks.U.attentions.L` where L = modules per down stage, since an up
    /// stage has one more). Down stages run before up stages in every UNet call, so L is known by then: every
    /// down-stage path this asks about (and every block `tokens(for:at:)` sees) updates it.
    @discardableResult
    func isProtected(_ path: String) -> Bool {
        let parts = path.split(separator: ".")
        guard parts.count >= 4, parts[2] == "attentions", let k = Int(parts[3]) else { return false }
        switch parts[0] {
        case "down_blocks":
            downAttentions = max(downAttentions, k + 1)
            return k == 0
        case "up_blocks": return k == max(downAttentions, 1)
        default: return false
        }
    }

    /// Temporal placement with a fresh stored mask: the whole block on the stored kept tokens. Otherwise
    /// (inline) self-attention on all tokens with its head-mean map, the mask from it, and cross-attention and
    /// the FFN on the kept tokens. Pruned tokens are refilled from their sources after the block.
    public func tokens(for x: Tensor, at site: TransformerBlockSite) throws -> BlockTokens? {
        isProtected(site.path)   // learns the modules per down stage even where this block stays dense
        guard settings.levels.contains(site.level), settings.stages.contains(where: { site.path.hasPrefix($0.rawValue) }),
              x.dim(1) == site.grid.h * site.grid.w else { return nil }
        let n = x.dim(1), rho = ratio(block: site.path)
        let p = Int((rho * Double(n)).rounded(.down))
        guard p > 0 else { return nil }
        if settings.temporal, let memory = stored[site.path], state.step - memory.step < settings.refreshSteps,
           memory.selection.kept.count == x.dim(0) {
            let k = memory.selection.keptCount
            state.log[site.path] = LayerTokens(selfQueries: k, selfKeys: k, cross: k, ffn: k)
            return BlockTokens(stream: .kept(Refill(selection: memory.selection, copyUpdate: settings.copyUpdate)))
        }
        let step = state.step, input = settings.recovery == .similarity && settings.features == .input ? x.copy() : nil
        return BlockTokens(stream: .keptAfterSelfAttention { [self] map, h1 in
            let sel = select(map: map, h1: input ?? h1, pruning: p)
            if settings.temporal { stored[site.path] = (sel, step) }
            if settings.maskPoint == .ffn {
                state.log[site.path] = LayerTokens.dense(n)
                return FullRefill(selection: sel, copyUpdate: settings.copyUpdate)
            }
            state.log[site.path] = LayerTokens(selfQueries: n, selfKeys: n, cross: sel.keptCount, ffn: sel.keptCount)
            return Refill(selection: sel, copyUpdate: settings.copyUpdate)
        })
    }

    /// The mask (G-WPR top N - P per row) and each pruned token's source; `h1` holds the features similarity
    /// recovery compares. Under CFG the rows are [uncond; cond] and may share mask and sources (`cfgSharing`).
    public func select(map: Tensor, h1: Tensor, pruning p: Int) -> TokenSelection {
        let rows = map.dim(0), n = map.dim(1), s = settings
        var scores = (0..<rows).map { GWPR.scores(map.data + $0 * n * n, n: n, walk: s.walk) }
        let half = s.cfgSharing != .none && cfg && rows % 2 == 0 ? rows / 2 : 0
        for r in 0..<half {
            let shared = s.cfgScores == .cond ? scores[r + half] : zip(scores[r], scores[r + half]).map { ($0 + $1) / 2 }
            scores[r] = shared; scores[r + half] = shared
        }
        let copied = s.cfgSharing == .sources ? half : 0   // uncond rows that take the cond row's selection
        var kept = [[Int]](repeating: [], count: rows), recovery = [[Int]](repeating: [], count: rows)
        for r in copied..<rows {
            kept[r] = GWPR.keep(scores[r], pruning: p)
            recovery[r] = sources(row: r, kept: kept[r], map: map, h1: h1)
        }
        for r in 0..<copied { kept[r] = kept[r + half]; recovery[r] = recovery[r + half] }
        return TokenSelection(kept: kept, recovery: recovery, tokens: n)
    }

    /// Per token of batch row `r`: itself when kept, else its source among `kept` (by the recovery setting).
    func sources(row r: Int, kept: [Int], map: Tensor, h1: Tensor) -> [Int] {
        let n = map.dim(1)
        var isKept = [Bool](repeating: false, count: n)
        for t in kept { isKept[t] = true }
        let pruned = (0..<n).filter { !isKept[$0] }
        let src: [Int]
        switch settings.recovery {
        case .attention: src = GWPR.attendedSources(map.data + r * n * n, n: n, kept: kept, pruned: pruned)
        case .similarity: src = TokenMetric.nearest(h1, batch: r, from: pruned, among: kept, options: similarity).index.map { kept[$0] }
        }
        var rec = Array(0..<n)
        for (i, t) in pruned.enumerated() { rec[t] = src[i] }
        return rec
    }
}
