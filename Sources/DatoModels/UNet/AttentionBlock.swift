import DatoCore

/// diffusers `Attention` as SD 1.x's transformer blocks use it: to_q/to_k/to_v without bias,
/// to_out.0 with bias. Cross-attention when a context is given.
public final class CrossAttention {
    public let heads: Int
    /// How the attention products compute (the layers' settings: bf16 in a bf16 UNet).
    public let compute: ComputeSettings
    /// The format of the attention products.
    public var precision: Precision { compute.precision }
    let toQ: Linear, toK: Linear, toV: Linear, toOut: Linear
    private let contextProjections = ContextProjections()

    public init(_ s: Scope, queryDim: Int, contextDim: Int?, heads: Int) throws {
        self.heads = heads
        compute = s.compute
        toQ = try s["to_q"].linear(queryDim, queryDim, bias: false)
        toK = try s["to_k"].linear(contextDim ?? queryDim, queryDim, bias: false)
        toV = try s["to_v"].linear(contextDim ?? queryDim, queryDim, bias: false)
        toOut = try s["to_out"][0].linear(queryDim, queryDim)
    }

    /// Adds attention(x, context) to `residual` in place.
    public func callAsFunction(_ x: any LayerInput, context: Tensor? = nil, addTo residual: Tensor) throws {
        try toOut.accumulate(try heads(x, context: context), into: residual)
    }

    /// attention(x, context) as a new tensor.
    public func callAsFunction(_ x: any LayerInput, context: Tensor? = nil) throws -> Tensor {
        try toOut(try heads(x, context: context))
    }

    /// attention(x, context) as a new tensor, also accumulating the mean over heads of the softmax
    /// probabilities into `probabilityMean` ([B, Nq, Nk], overwritten).
    public func callAsFunction(_ x: any LayerInput, context: Tensor? = nil, probabilityMean: Tensor) throws -> Tensor {
        let (k, v) = try keysAndValues(x, context: context) { try $0($1) }
        return try toOut(Attention.scaledDotProduct(q: try toQ(x), k: k, v: v, heads: heads,
                                                    probabilityMean: probabilityMean, compute: compute))
    }

    /// to_k and to_v of the context (kept across calls while it is unchanged), or of `x` for self-attention, each
    /// by `project` (fp32 results, or bf16 ones).
    private func keysAndValues<T>(_ x: any LayerInput, context: Tensor?,
                                  _ project: (Linear, any LayerInput) throws -> T) throws -> (T, T) {
        guard let context else { return (try project(toK, x), try project(toV, x)) }
        return try contextProjections.keysAndValues(for: context) { (try project(toK, $0), try project(toV, $0)) }
    }

    /// The heads' outputs. Where the attention exchanges bf16 with bf16 layers, the projections hand their
    /// results to it in bf16 and it hands its own to `to_out` in bf16 (no fp32 copies in between).
    private func heads(_ x: any LayerInput, context: Tensor?) throws -> any LayerInput {
        guard Attention.exchangesBF16(compute), [toQ, toK, toV, toOut].allSatisfy({ $0.precision == .bf16 }) else {
            let q = try toQ(x), (k, v) = try keysAndValues(x, context: context) { try $0($1) }
            return try Attention.scaledDotProduct(q: q, k: k, v: v, heads: heads, compute: compute)
        }
        let (k, v) = try keysAndValues(x, context: context) { try $0.roundedToBF16($1) }
        return try Attention.scaledDotProductForBF16Layers(q: try toQ.roundedToBF16(x), k: k, v: v, heads: heads,
                                                           compute: compute)
    }
}

/// diffusers `FeedForward` with GEGLU: net.0.proj (C -> 8C), value * GELU(gate), net.2 (4C -> C).
public final class FeedForward {
    let proj: Linear, out: Linear

    public init(_ s: Scope, dim: Int, mult: Int = 4) throws {
        proj = try s["net"][0]["proj"].linear(dim, dim * mult * 2)
        out = try s["net"][2].linear(dim * mult, dim)
    }

    /// The layers' format (bf16 in a bf16 UNet).
    public var precision: Precision { proj.precision }

    /// Rows per piece of a bf16 feed-forward: the piece's 8C-wide projection (2.6 MB at 320 channels) stays in
    /// the cache between the products and GEGLU (`dato bench ops`: about 15% faster than whole at 8192 rows).
    public static let rowsPerPiece = 512

    /// Adds ff(x) to `residual` in place (in bf16, in pieces of `rowsPerPiece` rows).
    public func callAsFunction(_ x: any LayerInput, addTo residual: Tensor) throws {
        guard let h = x as? BF16Tensor, proj.precision == .bf16, out.precision == .bf16 else {
            return try out.accumulate(try gated(x), into: residual)
        }
        let rows = h.count / h.dim(-1)
        for start in stride(from: 0, to: rows, by: Self.rowsPerPiece) {
            let piece = start ..< min(rows, start + Self.rowsPerPiece)
            try out.accumulate(try gated(rows == piece.count ? h : h.rows(piece)), into: residual, rows: piece)
        }
    }

    /// ff(x) as a new tensor.
    public func callAsFunction(_ x: any LayerInput) throws -> Tensor {
        try out(try gated(x))
    }

    /// value * GELU(gate) of the projection. In bf16 the projection's result is rounded to bf16 too, which
    /// halves the memory traffic of the widest tensor in the UNet (8C channels).
    private func gated(_ x: any LayerInput) throws -> any LayerInput {
        guard proj.precision == .bf16 && out.precision == .bf16 else { return Elementwise.geglu(try proj(x)) }
        return Elementwise.gegluBF16(try proj.roundedToBF16(x))
    }
}

/// diffusers `BasicTransformerBlock`: self-attention, cross-attention, GEGLU feed-forward, each
/// pre-normed by a LayerNorm and added to the residual stream.
public final class BasicTransformerBlock {
    public let norm1: LayerNorm, norm2: LayerNorm, norm3: LayerNorm
    public let attn1: CrossAttention, attn2: CrossAttention
    public let ff: FeedForward

    public init(_ s: Scope, dim: Int, heads: Int, contextDim: Int) throws {
        norm1 = LayerNorm(s["norm1"], channels: dim, eps: 1e-5)
        attn1 = try CrossAttention(s["attn1"], queryDim: dim, contextDim: nil, heads: heads)
        norm2 = LayerNorm(s["norm2"], channels: dim, eps: 1e-5)
        attn2 = try CrossAttention(s["attn2"], queryDim: dim, contextDim: contextDim, heads: heads)
        norm3 = LayerNorm(s["norm3"], channels: dim, eps: 1e-5)
        ff = try FeedForward(s["ff"], dim: dim)
    }

    /// Updates the token stream `x` [B, N, C] in place.
    public func callAsFunction(_ x: Tensor, context: Tensor) throws {
        try self(x, context: context, tokens: BlockTokens())
    }

    /// Updates the token stream `x` [B, N, C] in place, each sub-layer on the tokens `t` gives it. Every
    /// LayerNorm hands its result to its sub-layer in that sub-layer's format (bf16 in a bf16 UNet).
    public func callAsFunction(_ x: Tensor, context: Tensor, tokens t: BlockTokens) throws {
        var h = x, kept: (reduction: any StreamReduction, before: Tensor)?
        if case .kept(let r) = t.stream { kept = (r, r.keep(x)) }
        if let kept { h = kept.before.copy() }
        if case .keptAfterSelfAttention(let choose) = t.stream {
            let map = Tensor(shape: [x.dim(0), x.dim(1), x.dim(1)], zeroed: false)
            Elementwise.addInPlace(x, try attn1(norm1(x, for: attn1.precision), probabilityMean: map))
            if let r = try choose(map, x) { kept = (r, r.keep(x)) }
            if let kept { h = kept.before.copy() }
        } else {
            try residual(h, norm1, attn1.precision, t.selfAttention) { try self.attn1($0, addTo: $1) }
        }
        try residual(h, norm2, attn2.precision, t.crossAttention) { try self.attn2($0, context: context, addTo: $1) }
        try residual(h, norm3, ff.precision, t.feedForward) { try self.ff($0, addTo: $1) }
        if let kept { kept.reduction.restore(x, from: h, before: kept.before) }
    }

    /// Adds `add`'s sub-layer of norm(h) to `h` [B, N, C], on the rows `r` gives (all rows when nil); the
    /// sub-layer reads its input in `format`.
    private func residual(_ h: Tensor, _ norm: LayerNorm, _ format: Precision, _ r: (any RowReduction)?,
                          _ add: (any LayerInput, Tensor) throws -> Void) throws {
        guard let r else { return try add(norm(h, for: format), h) }
        let input: any LayerInput
        if r.picksRows {
            input = norm(r.merge(h), for: format)
        } else {
            let merged = r.merge(norm(h))
            input = format == .bf16 ? BF16Tensor(rounding: merged) : merged
        }
        let out = Tensor(shape: input.shape)
        try add(input, out)
        Elementwise.addInPlace(h, r.unmerge(out))
    }
}

/// diffusers `Transformer2DModel` (continuous input): GroupNorm, proj_in, transformer blocks,
/// proj_out, plus the input as residual. proj_in/proj_out are 1x1 convs or linears (same math in NHWC).
public final class Transformer2DModel {
    let norm: GroupNorm
    let projIn: Linear, projOut: Linear
    public let transformerBlocks: [BasicTransformerBlock]
    /// This module's diffusers path (e.g. "down_blocks.0.attentions.1"), and each transformer block's.
    public let path: String
    let blockPaths: [String]

    public init(_ s: Scope, path: String = "", channels: Int, heads: Int, contextDim: Int, groups: Int, layers: Int,
                linearProjection: Bool) throws {
        norm = GroupNorm(s["norm"], channels: channels, groups: groups, eps: 1e-6)
        projIn = try s["proj_in"].pointwise(channels, channels, asConv: !linearProjection)
        transformerBlocks = try (0..<layers).map {
            try BasicTransformerBlock(s["transformer_blocks"][$0], dim: channels, heads: heads, contextDim: contextDim)
        }
        projOut = try s["proj_out"].pointwise(channels, channels, asConv: !linearProjection)
        self.path = path
        blockPaths = (0..<layers).map { "\(path).transformer_blocks.\($0)" }
    }

    /// `x`: [B, H, W, C] -> [B, H, W, C].
    public func callAsFunction(_ x: Tensor, context: Tensor) throws -> Tensor {
        try self(x, context: context, hooks: nil)
    }

    /// `x`: [B, H, W, C] -> [B, H, W, C], each transformer block offered to the call's pruning policy first.
    func callAsFunction(_ x: Tensor, context: Tensor, hooks: BlockHooks?) throws -> Tensor {
        let shape = x.shape
        let tokens = try projIn(norm(x, for: projIn.precision)).reshape([shape[0], shape[1] * shape[2], shape[3]])
        for (i, block) in transformerBlocks.enumerated() {
            if let hooks {
                let site = TransformerBlockSite(path: blockPaths[i], grid: (shape[1], shape[2]), latent: hooks.latent)
                if try hooks.reducer.run(block, on: tokens, context: context, at: site) { continue }
            }
            try block(tokens, context: context)
        }
        let out = x.copy()
        try projOut.accumulate(tokens, into: out)
        return out
    }
}
