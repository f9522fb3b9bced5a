import DatoCore
import DatoModels

/// A reduction of a block's tokens for one call (ToMe, DaTo): `merge` shrinks [B, N, C] to [B, N', C],
/// `unmerge` restores N rows. The flags say which sub-layers run on the reduced tokens.
public protocol TokenReduction: RowReduction {
    var attention: Bool { get }
    var crossAttention: Bool { get }
    var mlp: Bool { get }
}

extension TokenReduction {
    /// The block call this reduction stands for: each flagged sub-layer on the reduced tokens (its output
    /// unmerged to N rows and added to the full-length stream), the others on all tokens.
    public var blockTokens: BlockTokens {
        BlockTokens(selfAttention: attention ? self : nil, crossAttention: crossAttention ? self : nil,
                    feedForward: mlp ? self : nil)
    }
}

extension BasicTransformerBlock {
    /// Runs the block on `x` in place with the sub-layers `r` flags on reduced tokens.
    func run(_ x: Tensor, context: Tensor, reduction r: TokenReduction) throws {
        try self(x, context: context, tokens: r.blockTokens)
    }
}
