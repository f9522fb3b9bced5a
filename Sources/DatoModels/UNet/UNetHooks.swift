import DatoCore

/// Everything one UNet call is run with besides its inputs: the feature store of feature caching, the
/// token-pruning policy and a tracing observer. It travels down with the call; nothing is written into the
/// loaded model, so one model can serve several generations at once (each with its own hooks).
public struct UNetHooks {
    /// Where a partial call reads, and every call writes, the up units' outputs (nil: no caching).
    public var features: UNetFeatureStore?
    /// The token-pruning policy every transformer block offers its call to (nil: no pruning).
    public var tokenReducer: TokenReducer?
    /// Called with (module name, output) after conv_in, time_embedding, each block ("down_blocks.i",
    /// "down_blocks.i.res.j", "mid_block", "up_blocks.i"); for tests and tracing.
    public var observer: ModuleObserver?

    public init(features: UNetFeatureStore? = nil, tokenReducer: TokenReducer? = nil,
                observer: ModuleObserver? = nil) {
        self.features = features
        self.tokenReducer = tokenReducer
        self.observer = observer
    }
}

/// Where a caching policy keeps up-unit outputs between UNet calls (the hook the UNet exposes for
/// feature caching; the policy itself lives in the acceleration module).
public protocol UNetFeatureStore: AnyObject {
    /// Records the output of up unit U_k (k >= 1) computed in this call.
    func store(_ output: Tensor, ofUpUnit k: Int)
    /// The most recent output of up unit U_k, if any.
    func output(ofUpUnit k: Int) -> Tensor?
}

/// The part of a call's hooks the transformer blocks see: the pruning policy and the call's latent grid.
struct BlockHooks {
    let reducer: TokenReducer
    let latent: (h: Int, w: Int)
}
