import DatoCore

/// Where a transformer block sits, for token-pruning policies.
public struct TransformerBlockSite: Sendable {
    /// diffusers module path, e.g. "down_blocks.0.attentions.1.transformer_blocks.0".
    public let path: String
    /// The block's token grid (h, w) in this call, and the UNet's latent grid.
    public let grid: (h: Int, w: Int)
    public let latent: (h: Int, w: Int)

    public init(path: String, grid: (h: Int, w: Int), latent: (h: Int, w: Int)) {
        self.path = path; self.grid = grid; self.latent = latent
    }

    /// Resolution level of the block: 0 at the latent grid, 1 at half of it, and so on.
    public var level: Int {
        var l = 0, h = latent.h, w = latent.w
        while h > grid.h || w > grid.w { h = (h + 1) / 2; w = (w + 1) / 2; l += 1 }
        return l
    }
}

/// The hook through which token pruning (ToMe, DaTo, AT-EDM) attaches to the UNet's transformer blocks.
///
/// Every BasicTransformerBlock first offers its call to the reducer, which may run the block its own way
/// from the block's public sub-layers (and return true), or decline (false) so the block runs densely.
public protocol TokenReducer: AnyObject {
    /// Runs `block` on the token stream `x` [B, N, C] in place, or returns false to leave it to the block.
    func run(_ block: BasicTransformerBlock, on x: Tensor, context: Tensor, at site: TransformerBlockSite) throws -> Bool
}
