import DatoCore
import DatoModels

/// A reduction of a block's tokens for one call: `merge` shrinks [B, N, C] to [B, N', C], `unmerge`
/// restores N rows. The flags say which sub-layers run on the reduced tokens.
public protocol TokenReduction {
    var attention: Bool { get }
    var crossAttention: Bool { get }
    var mlp: Bool { get }
    func merge(_ x: Tensor) -> Tensor
    func unmerge(_ x: Tensor) -> Tensor
}

extension BasicTransformerBlock {
    /// The block with each flagged sub-layer run on reduced tokens: its output is unmerged to N rows and
    /// added to the full-length residual (ToMe, DaTo). Unflagged sub-layers run on all tokens.
    func run(_ x: Tensor, context: Tensor, reduction r: TokenReduction) throws {
        if r.attention { Elementwise.addInPlace(x, r.unmerge(try attn1(r.merge(norm1(x))))) } else { try attn1(norm1(x), addTo: x) }
        if r.crossAttention {
            Elementwise.addInPlace(x, r.unmerge(try attn2(r.merge(norm2(x)), context: context)))
        } else {
            try attn2(norm2(x), context: context, addTo: x)
        }
        if r.mlp { Elementwise.addInPlace(x, r.unmerge(try ff(r.merge(norm3(x))))) } else { try ff(norm3(x), addTo: x) }
    }
}
