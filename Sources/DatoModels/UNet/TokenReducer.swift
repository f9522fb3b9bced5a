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
/// Every BasicTransformerBlock first asks the reducer which tokens each of its sub-layers runs on in this call;
/// the block then runs its one forward with that description (nil: all tokens).
public protocol TokenReducer: AnyObject {
    /// The tokens each sub-layer of the block at `site` runs on for the token stream `x` [B, N, C], or nil to
    /// run the block densely.
    func tokens(for x: Tensor, at site: TransformerBlockSite) throws -> BlockTokens?
}

extension TokenReducer {
    /// Runs `block` on `x` [B, N, C] in place as this reducer describes, or returns false (leaving `x` as it
    /// was) when the reducer leaves the call dense.
    public func run(_ block: BasicTransformerBlock, on x: Tensor, context: Tensor, at site: TransformerBlockSite) throws -> Bool {
        guard let tokens = try tokens(for: x, at: site) else { return false }
        try block(x, context: context, tokens: tokens)
        return true
    }
}
