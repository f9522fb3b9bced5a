import DatoCore

/// diffusers `UNet2DConditionModel` for SD 1.x, channels-last.
///
/// Execution order: time embedding, conv_in (skip 0), down blocks (skips 1...), mid block, up blocks
/// (consuming skips in reverse), head. See docs/methods/unet-layout.md for the numbering.
public final class UNet2DConditionModel {
    public let config: UNetConfig
    /// How its layers compute (fixed when it was built).
    public let compute: ComputeSettings
    public let timeEmbedding: TimestepEmbedding
    public let convIn: Conv2D
    public let downBlocks: [UNetDownBlock]
    public let midBlock: UNetMidBlock
    public let upBlocks: [UNetUpBlock]
    let convNormOut: GroupNorm
    let convOut: Conv2D

    /// Every Transformer2DModel with its diffusers path.
    public var attentionModules: [(String, Transformer2DModel)] {
        var out: [(String, Transformer2DModel)] = []
        for (i, b) in downBlocks.enumerated() { for (j, a) in b.attentions.enumerated() { out.append(("down_blocks.\(i).attentions.\(j)", a)) } }
        for (j, a) in midBlock.attentions.enumerated() { out.append(("mid_block.attentions.\(j)", a)) }
        for (i, b) in upBlocks.enumerated() { for (j, a) in b.attentions.enumerated() { out.append(("up_blocks.\(i).attentions.\(j)", a)) } }
        return out
    }

    /// Builds the model, taking every weight from `params` (diffusers names, no prefix); its layers compute as
    /// `params.compute` says.
    public init(config: UNetConfig, params: Scope) throws {
        compute = params.compute
        try config.validate()
        try params.reserve(try config.describedParameters(file: "unet config"), for: "UNet")
        self.config = config
        let c0 = config.blockOutChannels[0], temb = c0 * 4
        timeEmbedding = try TimestepEmbedding(params["time_embedding"], channels: c0, embedChannels: temb,
                                              flipSinToCos: config.flipSinToCos, freqShift: config.freqShift)
        convIn = try params["conv_in"].conv(config.inChannels, c0, kernel: 3)
        var input = c0
        var downs: [UNetDownBlock] = []
        for i in config.blockOutChannels.indices {
            downs.append(try UNetDownBlock(params["down_blocks"][i], config: config, index: i, inChannels: input, tembChannels: temb))
            input = config.blockOutChannels[i]
        }
        downBlocks = downs
        midBlock = try UNetMidBlock(params["mid_block"], config: config, tembChannels: temb)
        upBlocks = try config.blockOutChannels.indices.map {
            try UNetUpBlock(params["up_blocks"][$0], config: config, index: $0, tembChannels: temb)
        }
        convNormOut = GroupNorm(params["conv_norm_out"], channels: c0, groups: config.normNumGroups, eps: config.normEps)
        convOut = try params["conv_out"].conv(c0, config.outChannels, kernel: 3)
    }

    /// Number of skip tensors (12 for SD 1.x): down units D_0..D_{n-1} and up units U_{n-1}..U_0.
    public var unitCount: Int { 1 + downBlocks.reduce(0) { $0 + $1.unitCount } }

    /// Predicts noise (or v) for `sample` [B, H, W, in_channels] at `timesteps` (one per batch row)
    /// given text states `context` [B, T, cross_attention_dim].
    ///
    /// `depth` d < `unitCount` runs a partial call (docs/methods/caching.md): D_0..D_{d-1}, no mid block,
    /// and U_{d-1}..U_0, where U_{d-1} takes the output U_d produced earlier, read from `hooks.features`.
    /// Every computed up unit U_k (k >= 1) is written to `hooks.features`. nil or d >= unitCount is a full
    /// call. The model itself is not changed by a call: concurrent calls with their own hooks are safe.
    public func callAsFunction(_ sample: Tensor, timesteps: [Float], context: Tensor, depth: Int? = nil,
                               hooks: UNetHooks = UNetHooks()) throws -> Tensor {
        guard sample.shape.count == 4, sample.dim(3) == config.inChannels, sample.dim(1) > 0, sample.dim(2) > 0 else {
            throw ModelError.input("UNet sample must be [B, H, W, \(config.inChannels)], got \(sample.shape)")
        }
        let b = sample.dim(0)
        guard timesteps.count == b else {
            throw ModelError.input("UNet got \(timesteps.count) timesteps for batch \(b)")
        }
        guard context.shape.count == 3, context.dim(0) == b, context.dim(2) == config.crossAttentionDim else {
            throw ModelError.input("UNet context must be [\(b), T, \(config.crossAttentionDim)], got \(context.shape)")
        }
        let units = unitCount
        let d = min(depth ?? units, units)
        guard d >= 1 else { throw ModelError.input("UNet depth \(d) must be at least 1 (depth 0 is handled by the caller)") }
        let blockHooks = hooks.tokenReducer.map { BlockHooks(reducer: $0, latent: (sample.dim(1), sample.dim(2))) }
        let observer = hooks.observer, features = hooks.features
        let temb = try timeEmbedding(timesteps)
        observer?("time_embedding", temb)
        Elementwise.silu(temb)  // every resnet applies SiLU to temb before its projection
        // Down path: D_0 = conv_in, then the down blocks' units, while their skip id is below d.
        var h = try convIn(sample)
        observer?("conv_in", h)
        var skips = [h]
        for (i, block) in downBlocks.enumerated() where skips.count < d {
            for j in 0..<block.unitCount where skips.count < d {
                h = try block.unit(j, h, tembAct: temb, context: context, hooks: blockHooks)
                skips.append(h)
                observer?("down_blocks.\(i).res.\(j)", h)
                if j == block.unitCount - 1 { observer?("down_blocks.\(i)", h) }
            }
        }
        // Mid block on full calls; otherwise the cached output of U_d.
        if d == units {
            h = try midBlock(h, tembAct: temb, context: context, hooks: blockHooks)
            observer?("mid_block", h)
        } else {
            guard let cached = features?.output(ofUpUnit: d) else {
                throw ModelError.input("partial UNet call at depth \(d) needs a cached output of up unit U_\(d)")
            }
            h = cached
        }
        // Up path: U_{units-1} ... U_0 in execution order, running only those below d.
        var k = units
        for (i, block) in upBlocks.enumerated() {
            for j in 0..<block.unitCount {
                k -= 1
                guard k < d else { continue }
                guard let skip = skips.popLast() else { throw ModelError.input("UNet skip stack exhausted") }
                h = try block.unit(j, h, skip: skip, nextSkipSize: skips.last.map { ($0.dim(1), $0.dim(2)) },
                                   tembAct: temb, context: context, hooks: blockHooks)
                if k >= 1 { features?.store(h, ofUpUnit: k) }
                if j == block.unitCount - 1 { observer?("up_blocks.\(i)", h) }
            }
        }
        return try convOut(convNormOut(h, silu: true))
    }
}
