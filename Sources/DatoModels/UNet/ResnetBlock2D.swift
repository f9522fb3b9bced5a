import DatoCore

/// diffusers `ResnetBlock2D`: GN, SiLU, conv1, + time projection, GN, SiLU, conv2, + shortcut.
/// Used by the UNet (with a time embedding) and the VAE (without).
public final class ResnetBlock2D {
    let norm1: GroupNorm, norm2: GroupNorm
    let conv1: Conv2D, conv2: Conv2D
    let timeEmbProj: Linear?
    let convShortcut: Conv2D?

    /// `tembChannels` nil means no time embedding (VAE).
    public init(_ s: Scope, inChannels: Int, outChannels: Int, tembChannels: Int?, groups: Int, eps: Float) throws {
        norm1 = GroupNorm(s["norm1"], channels: inChannels, groups: groups, eps: eps)
        conv1 = try s["conv1"].conv(inChannels, outChannels, kernel: 3)
        timeEmbProj = try tembChannels.map { try s["time_emb_proj"].linear($0, outChannels) }
        norm2 = GroupNorm(s["norm2"], channels: outChannels, groups: groups, eps: eps)
        conv2 = try s["conv2"].conv(outChannels, outChannels, kernel: 3)
        convShortcut = inChannels == outChannels ? nil : try s["conv_shortcut"].conv(inChannels, outChannels, kernel: 1)
    }

    /// `x`: [B, H, W, Cin]; `tembAct`: SiLU(temb) [B, T] (nil for the VAE).
    public func callAsFunction(_ x: Tensor, tembAct: Tensor?) throws -> Tensor {
        let h = try conv1(norm1(x, silu: true, for: conv1.precision))
        // The time embedding's projection is added to h inside norm2 (no pass of its own).
        let temb = try timeEmbProj.flatMap { proj in try tembAct.map { try proj($0) } }
        let out = try convShortcut.map { try $0(x) } ?? x.copy()
        try conv2.accumulate(norm2(h, adding: temb, silu: true, for: conv2.precision), into: out)
        return out
    }
}
