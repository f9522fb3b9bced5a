import DatoCore

/// The VAE encoder: conv_in, down blocks, mid block, GroupNorm + SiLU, conv_out (mean and log-variance).
public final class VAEEncoder {
    let convIn: Conv2D
    let downBlocks: [VAEDownBlock]
    let midBlock: VAEMidBlock
    let convNormOut: GroupNorm
    let convOut: Conv2D

    init(_ s: Scope, config c: VAEConfig) throws {
        let ch = c.blockOutChannels, g = c.normNumGroups
        convIn = try s["conv_in"].conv(c.inChannels, ch[0], kernel: 3)
        downBlocks = try ch.indices.map { i in
            try VAEDownBlock(s["down_blocks"][i], inChannels: i == 0 ? ch[0] : ch[i - 1], outChannels: ch[i],
                             layers: c.layersPerBlock, groups: g, downsample: i < ch.count - 1)
        }
        midBlock = try VAEMidBlock(s["mid_block"], channels: ch[ch.count - 1], groups: g, addAttention: c.midBlockAddAttention)
        convNormOut = GroupNorm(s["conv_norm_out"], channels: ch[ch.count - 1], groups: g, eps: 1e-6)
        convOut = try s["conv_out"].conv(ch[ch.count - 1], 2 * c.latentChannels, kernel: 3)
    }

    /// The moments of `x`; `observer` sees each block's output (diffusers' module name, tensor).
    func callAsFunction(_ x: Tensor, observer: ModuleObserver?) throws -> Tensor {
        var h = try convIn(x)
        observer?("encoder.conv_in", h)
        for (i, b) in downBlocks.enumerated() {
            h = try b(h)
            observer?("encoder.down_blocks.\(i)", h)
        }
        h = try midBlock(h)
        observer?("encoder.mid_block", h)
        return try convOut(convNormOut(h, silu: true))
    }
}

/// The VAE decoder: conv_in, mid block, up blocks, GroupNorm + SiLU, conv_out.
public final class VAEDecoder {
    let convIn: Conv2D
    let midBlock: VAEMidBlock
    let upBlocks: [VAEUpBlock]
    let convNormOut: GroupNorm
    let convOut: Conv2D

    init(_ s: Scope, config c: VAEConfig) throws {
        let rev = Array(c.blockOutChannels.reversed()), g = c.normNumGroups
        convIn = try s["conv_in"].conv(c.latentChannels, rev[0], kernel: 3)
        midBlock = try VAEMidBlock(s["mid_block"], channels: rev[0], groups: g, addAttention: c.midBlockAddAttention)
        upBlocks = try rev.indices.map { i in
            try VAEUpBlock(s["up_blocks"][i], inChannels: i == 0 ? rev[0] : rev[i - 1], outChannels: rev[i],
                           layers: c.layersPerBlock + 1, groups: g, upsample: i < rev.count - 1)
        }
        convNormOut = GroupNorm(s["conv_norm_out"], channels: rev[rev.count - 1], groups: g, eps: 1e-6)
        convOut = try s["conv_out"].conv(rev[rev.count - 1], c.outChannels, kernel: 3)
    }

    /// The image of `z`; `observer` sees each block's output (diffusers' module name, tensor).
    func callAsFunction(_ z: Tensor, observer: ModuleObserver?) throws -> Tensor {
        var h = try convIn(z)
        observer?("decoder.conv_in", h)
        h = try midBlock(h)
        observer?("decoder.mid_block", h)
        for (i, b) in upBlocks.enumerated() {
            h = try b(h)
            observer?("decoder.up_blocks.\(i)", h)
        }
        return try convOut(convNormOut(h, silu: true))
    }
}

/// diffusers `AutoencoderKL`, channels-last. `encode` returns the Gaussian's parameters
/// (mean and log-variance concatenated on channels); `decode` maps latents to images in [-1, 1].
public final class AutoencoderKL {
    public let config: VAEConfig
    let encoder: VAEEncoder
    let decoder: VAEDecoder
    let quantConv: Conv2D?
    let postQuantConv: Conv2D?

    public init(config: VAEConfig, params s: Scope) throws {
        try config.validate()
        try s.reserve(try config.describedParameters(file: "vae config"), for: "VAE")
        self.config = config
        let l = config.latentChannels
        encoder = try VAEEncoder(s["encoder"], config: config)
        decoder = try VAEDecoder(s["decoder"], config: config)
        quantConv = config.useQuantConv ? try s["quant_conv"].conv(2 * l, 2 * l, kernel: 1) : nil
        postQuantConv = config.usePostQuantConv ? try s["post_quant_conv"].conv(l, l, kernel: 1) : nil
    }

    /// Image [B, H, W, in_channels] -> moments [B, H/f, W/f, 2 x latent_channels]. `observer` (for tests and
    /// tracing) is called with each block's module name and output.
    public func encode(_ image: Tensor, observer: ModuleObserver? = nil) throws -> Tensor {
        guard image.shape.count == 4, image.dim(3) == config.inChannels else {
            throw ModelError.input("VAE encoder expects [B, H, W, \(config.inChannels)], got \(image.shape)")
        }
        let h = try encoder(image, observer: observer)
        return try quantConv.map { try $0(h) } ?? h
    }

    /// Latents [B, h, w, latent_channels] (already divided by the scaling factor) -> image [B, H, W, out].
    /// `observer` (for tests and tracing) is called with each block's module name and output.
    public func decode(_ latents: Tensor, observer: ModuleObserver? = nil) throws -> Tensor {
        guard latents.shape.count == 4, latents.dim(3) == config.latentChannels else {
            throw ModelError.input("VAE decoder expects [B, h, w, \(config.latentChannels)], got \(latents.shape)")
        }
        var z = latents
        if let postQuantConv {
            z = try postQuantConv(latents)
            observer?("post_quant_conv", z)
        }
        return try decoder(z, observer: observer)
    }
}
