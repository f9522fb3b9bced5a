import DatoCore

/// The VAE mid-block `Attention`: GroupNorm, single-head (by default) self-attention with biased
/// projections, plus the input as residual.
final class VAEAttention {
    let groupNorm: GroupNorm
    let toQ: Linear, toK: Linear, toV: Linear, toOut: Linear
    /// The settings of its attention (kernels, profiler).
    let compute: ComputeSettings

    init(_ s: Scope, channels: Int, groups: Int) throws {
        compute = s.compute
        groupNorm = GroupNorm(s["group_norm"], channels: channels, groups: groups, eps: 1e-6)
        toQ = try s["to_q"].linear(channels, channels)
        toK = try s["to_k"].linear(channels, channels)
        toV = try s["to_v"].linear(channels, channels)
        toOut = try s["to_out"][0].linear(channels, channels)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let shape = x.shape
        let n = groupNorm(x).reshape([shape[0], shape[1] * shape[2], shape[3]])
        let o = try Attention.scaledDotProduct(q: try toQ(n), k: try toK(n), v: try toV(n), heads: 1, compute: compute)
        let out = x.copy().reshape([shape[0], shape[1] * shape[2], shape[3]])
        try toOut.accumulate(o, into: out)
        return out.reshape(shape)
    }
}

/// `UNetMidBlock2D` of the VAE: resnet, attention, resnet (no time embedding).
final class VAEMidBlock {
    let resnets: [ResnetBlock2D]
    let attention: VAEAttention?

    init(_ s: Scope, channels: Int, groups: Int, addAttention: Bool) throws {
        resnets = try (0..<2).map {
            try ResnetBlock2D(s["resnets"][$0], inChannels: channels, outChannels: channels, tembChannels: nil,
                              groups: groups, eps: 1e-6)
        }
        attention = addAttention ? try VAEAttention(s["attentions"][0], channels: channels, groups: groups) : nil
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = try resnets[0](x, tembAct: nil)
        if let attention { h = try attention(h) }
        return try resnets[1](h, tembAct: nil)
    }
}

/// The VAE blocks' resnets: the first maps inChannels to outChannels, no time embedding, eps 1e-6.
private func vaeResnets(_ s: Scope, inChannels: Int, outChannels: Int, layers: Int, groups: Int) throws -> [ResnetBlock2D] {
    try (0..<layers).map {
        try ResnetBlock2D(s["resnets"][$0], inChannels: $0 == 0 ? inChannels : outChannels, outChannels: outChannels,
                          tembChannels: nil, groups: groups, eps: 1e-6)
    }
}

/// `DownEncoderBlock2D`: resnets, then a stride-2 conv with (0, 1, 0, 1) padding (bottom/right only).
final class VAEDownBlock {
    let resnets: [ResnetBlock2D]
    let downsampler: Conv2D?

    init(_ s: Scope, inChannels: Int, outChannels: Int, layers: Int, groups: Int, downsample: Bool) throws {
        resnets = try vaeResnets(s, inChannels: inChannels, outChannels: outChannels, layers: layers, groups: groups)
        downsampler = downsample
            ? try s["downsamplers"][0]["conv"].conv(outChannels, outChannels, kernel: 3, stride: 2, padding: (0, 0, 1, 1))
            : nil
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = x
        for r in resnets { h = try r(h, tembAct: nil) }
        if let downsampler { h = try downsampler(h) }
        return h
    }
}

/// `UpDecoderBlock2D`: resnets, then nearest 2x upsample + conv.
final class VAEUpBlock {
    let resnets: [ResnetBlock2D]
    let upsamplerConv: Conv2D?

    init(_ s: Scope, inChannels: Int, outChannels: Int, layers: Int, groups: Int, upsample: Bool) throws {
        resnets = try vaeResnets(s, inChannels: inChannels, outChannels: outChannels, layers: layers, groups: groups)
        upsamplerConv = upsample ? try s["upsamplers"][0]["conv"].conv(outChannels, outChannels, kernel: 3) : nil
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = x
        for r in resnets { h = try r(h, tembAct: nil) }
        if let upsamplerConv { h = try upsamplerConv(TokenOps.upsampleNearest(h)) }
        return h
    }
}
