import DatoCore

/// diffusers `UNet2DConditionModel` for SD 1.x, channels-last.
///
/// Execution order: time embedding, conv_in (skip 0), down blocks (skips 1...), mid block, up blocks
/// (consuming skips in reverse), head. See shared/spec/unet-layout.md for the numbering.
public final class UNet2DConditionModel {
    public let config: UNetConfig
    public let timeEmbedding: TimestepEmbedding
    public let convIn: Conv2D
    public let downBlocks: [UNetDownBlock]
    public let midBlock: UNetMidBlock
    public let upBlocks: [UNetUpBlock]
    let convNormOut: GroupNorm
    let convOut: Conv2D

    /// Called with (module name, output) after conv_in, time_embedding, each block
    /// ("down_blocks.i", "down_blocks.i.res.j", "mid_block", "up_blocks.i"); for tests and tracing.
    public var observer: ((String, Tensor) -> Void)?

    /// Builds the model, taking every weight from `params` (diffusers names, no prefix).
    public init(config: UNetConfig, params: Scope) throws {
        try config.validate()
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

    /// Predicts noise (or v) for `sample` [B, H, W, in_channels] at `timesteps` (one per batch row)
    /// given text states `context` [B, T, cross_attention_dim].
    public func callAsFunction(_ sample: Tensor, timesteps: [Float], context: Tensor) throws -> Tensor {
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
        let temb = try timeEmbedding(timesteps)
        observer?("time_embedding", temb)
        Elementwise.silu(temb)  // every resnet applies SiLU to temb before its projection
        var h = try convIn(sample)
        observer?("conv_in", h)
        var skips = [h]
        for (i, block) in downBlocks.enumerated() {
            let before = skips.count
            h = try block(h, tembAct: temb, context: context, skips: &skips)
            observer?("down_blocks.\(i)", h)
            if let observer { for (j, s) in skips[before...].enumerated() { observer("down_blocks.\(i).res.\(j)", s) } }
        }
        h = try midBlock(h, tembAct: temb, context: context)
        observer?("mid_block", h)
        for (i, block) in upBlocks.enumerated() {
            h = try block(h, tembAct: temb, context: context, skips: &skips)
            observer?("up_blocks.\(i)", h)
        }
        return try convOut(convNormOut(h, silu: true))
    }
}
