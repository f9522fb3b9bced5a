import DatoCore

/// `CrossAttnDownBlock2D` (with attentions) or `DownBlock2D` (without): resnets[j] (+ attentions[j]),
/// then an optional stride-2 downsampler. Every layer's output is pushed as a skip tensor.
public final class UNetDownBlock {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]
    public let downsampler: Conv2D?

    init(_ s: Scope, config c: UNetConfig, index i: Int, inChannels: Int, tembChannels: Int) throws {
        let out = c.blockOutChannels[i], last = i == c.blockOutChannels.count - 1
        let cross = c.downBlockTypes[i] == "CrossAttnDownBlock2D"
        resnets = try (0..<c.layersPerBlock).map { j in
            try ResnetBlock2D(s["resnets"][j], inChannels: j == 0 ? inChannels : out, outChannels: out,
                              tembChannels: tembChannels, groups: c.normNumGroups, eps: c.normEps)
        }
        attentions = cross ? try (0..<c.layersPerBlock).map { j in
            try Transformer2DModel(s["attentions"][j], path: "down_blocks.\(i).attentions.\(j)", channels: out, heads: c.headsPerBlock[i],
                                   contextDim: c.crossAttentionDim, groups: c.normNumGroups,
                                   layers: c.transformerLayersPerBlock.perBlock(c.blockOutChannels.count)[i],
                                   linearProjection: c.useLinearProjection)
        } : []
        downsampler = last ? nil : try s["downsamplers"][0]["conv"].conv(out, out, kernel: 3, stride: 2, padding: 1)
    }

    /// Units in this block: one per layer, plus the downsampler. Each produces one skip tensor.
    public var unitCount: Int { resnets.count + (downsampler == nil ? 0 : 1) }

    /// Runs unit `j`: resnet j (+ attention j), or the downsampler for the last unit.
    func unit(_ j: Int, _ x: Tensor, tembAct: Tensor, context: Tensor, hooks: BlockHooks?) throws -> Tensor {
        guard j < resnets.count else {
            guard let downsampler else { throw ModelError.input("down block has no unit \(j)") }
            return try downsampler(x)
        }
        let h = try resnets[j](x, tembAct: tembAct)
        return j < attentions.count ? try attentions[j](h, context: context, hooks: hooks) : h
    }
}

/// `UNetMidBlock2DCrossAttn`: resnets[0], attentions[0], resnets[1].
public final class UNetMidBlock {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]

    init(_ s: Scope, config c: UNetConfig, tembChannels: Int) throws {
        let ch = c.blockOutChannels.last ?? 0
        let layers = c.transformerLayersPerBlock.perBlock(c.blockOutChannels.count).last ?? 1
        resnets = try (0..<2).map {
            try ResnetBlock2D(s["resnets"][$0], inChannels: ch, outChannels: ch, tembChannels: tembChannels,
                              groups: c.normNumGroups, eps: c.normEps)
        }
        attentions = [try Transformer2DModel(s["attentions"][0], path: "mid_block.attentions.0", channels: ch, heads: c.headsPerBlock.last ?? 1,
                                             contextDim: c.crossAttentionDim, groups: c.normNumGroups,
                                             layers: layers, linearProjection: c.useLinearProjection)]
    }

    func callAsFunction(_ x: Tensor, tembAct: Tensor, context: Tensor, hooks: BlockHooks?) throws -> Tensor {
        var h = try resnets[0](x, tembAct: tembAct)
        h = try attentions[0](h, context: context, hooks: hooks)
        return try resnets[1](h, tembAct: tembAct)
    }
}

/// `CrossAttnUpBlock2D` or `UpBlock2D`: layers_per_block + 1 resnets, each on cat([h, skip]) (+ attention),
/// then an optional nearest-upsample + conv that resizes to the next skip tensor's size.
public final class UNetUpBlock {
    public let resnets: [ResnetBlock2D]
    public let attentions: [Transformer2DModel]
    public let upsamplerConv: Conv2D?

    init(_ s: Scope, config c: UNetConfig, index i: Int, tembChannels: Int) throws {
        let n = c.blockOutChannels.count
        let reversed = Array(c.blockOutChannels.reversed())
        let out = reversed[i], prevOut = reversed[max(i - 1, 0)], input = reversed[min(i + 1, n - 1)]
        let heads = Array(c.headsPerBlock.reversed())[i]
        let layers = Array(c.transformerLayersPerBlock.perBlock(n).reversed())[i]
        let cross = c.upBlockTypes[i] == "CrossAttnUpBlock2D"
        let count = c.layersPerBlock + 1
        resnets = try (0..<count).map { j in
            let skip = j == count - 1 ? input : out
            let main = j == 0 ? prevOut : out
            return try ResnetBlock2D(s["resnets"][j], inChannels: main + skip, outChannels: out,
                                     tembChannels: tembChannels, groups: c.normNumGroups, eps: c.normEps)
        }
        attentions = cross ? try (0..<count).map { j in
            try Transformer2DModel(s["attentions"][j], path: "up_blocks.\(i).attentions.\(j)", channels: out, heads: heads,
                                   contextDim: c.crossAttentionDim,
                                   groups: c.normNumGroups, layers: layers, linearProjection: c.useLinearProjection)
        } : []
        upsamplerConv = i == n - 1 ? nil : try s["upsamplers"][0]["conv"].conv(out, out, kernel: 3)
    }

    /// Units in this block: one per layer; the last one includes the upsampler.
    public var unitCount: Int { resnets.count }

    /// Runs unit `j` on cat([x, skip]): resnet j (+ attention j), then for the last unit the upsampler,
    /// which resizes to `nextSkipSize` (diffusers forwards it so odd latent sides round-trip exactly).
    func unit(_ j: Int, _ x: Tensor, skip: Tensor, nextSkipSize: (Int, Int)?, tembAct: Tensor, context: Tensor,
              hooks: BlockHooks?) throws -> Tensor {
        var h = try resnets[j](TokenOps.concatChannels([x, skip]), tembAct: tembAct)
        if j < attentions.count { h = try attentions[j](h, context: context, hooks: hooks) }
        if j == resnets.count - 1, let upsamplerConv {
            h = try upsamplerConv(TokenOps.upsampleNearest(h, to: nextSkipSize ?? (h.dim(1) * 2, h.dim(2) * 2)))
        }
        return h
    }
}
