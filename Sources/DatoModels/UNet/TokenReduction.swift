import DatoCore

/// Where a transformer block sits, for token-pruning policies.
public struct TransformerBlockSite: Sendable {
    /// diffusers module path, e.g. "down_blocks.0.attentions.1.transformer_blocks.0".
    public let path: String
    /// The block's token grid (h, w) in this call, and the UNet's latent grid.
    public let grid: (h: Int, w: Int)
    public let latent: (h: Int, w: Int)
}

/// A reduction of a block's tokens for one call: `merge` shrinks [B, N, C] to [B, N', C], `unmerge`
/// restores N rows. The flags say which sub-layers run on the reduced tokens.
public protocol TokenReduction {
    var attention: Bool { get }
    var crossAttention: Bool { get }
    var mlp: Bool { get }
    func merge(_ x: Tensor) -> Tensor
    func unmerge(_ x: Tensor) -> Tensor
}

/// The hook through which token pruning (ToMe, DaTo, AT-EDM) attaches to the UNet's transformer blocks.
/// It sees each block's input and decides the reduction; nil leaves the block untouched.
public protocol TokenReducer: AnyObject {
    func reduction(at site: TransformerBlockSite, input x: Tensor) -> TokenReduction?
}
