import DatoCore

/// A reduction of one sub-layer's rows in a transformer-block call: `merge` takes the sub-layer's input
/// rows [B, N, C] to K rows, `unmerge` takes its K output rows back to N rows, which are added to the stream.
public protocol RowReduction {
    /// True when `merge` only picks rows. It then commutes with the row-wise LayerNorm, which runs on the K
    /// picked rows and hands its result to the sub-layer in the sub-layer's format (bf16 in a bf16 UNet).
    var picksRows: Bool { get }
    func merge(_ x: Tensor) -> Tensor
    func unmerge(_ x: Tensor) -> Tensor
}

/// A reduction of the residual stream itself: the rest of the block runs on the K rows `keep` gives, then
/// `restore` writes all N rows of the stream `x` from the result `h` (and the kept rows as they were, `before`).
public protocol StreamReduction {
    func keep(_ x: Tensor) -> Tensor
    func restore(_ x: Tensor, from h: Tensor, before: Tensor)
}

/// Which tokens one call of a `BasicTransformerBlock` runs each sub-layer on (all of them by default). The
/// token-pruning policies describe their block calls with it; the block's one forward runs them.
public struct BlockTokens {
    /// The rows of the residual stream the block works on.
    public enum Stream {
        /// All N rows.
        case all
        /// The rows the reduction keeps, from the block's start.
        case kept(any StreamReduction)
        /// All rows through self-attention, which also computes the mean over heads of its softmax probabilities
        /// ([B, N, N]); `choose(map, x)` then gives the reduction the rest of the block runs on (nil: all rows).
        case keptAfterSelfAttention(_ choose: (_ map: Tensor, _ x: Tensor) throws -> (any StreamReduction)?)
    }

    public var stream: Stream
    /// Rows of self-attention (queries and keys), cross-attention and the feed-forward (nil: all rows). Self-
    /// attention's is not used with `.keptAfterSelfAttention`.
    public var selfAttention: (any RowReduction)?
    public var crossAttention: (any RowReduction)?
    public var feedForward: (any RowReduction)?

    public init(stream: Stream = .all, selfAttention: (any RowReduction)? = nil,
                crossAttention: (any RowReduction)? = nil, feedForward: (any RowReduction)? = nil) {
        self.stream = stream
        self.selfAttention = selfAttention
        self.crossAttention = crossAttention
        self.feedForward = feedForward
    }
}
