import DatoCore

/// Where in a generation a value stopped being finite.
public enum GenerationStage: Sendable, Equatable, CustomStringConvertible {
    /// The text encoder's output (prompt or negative prompt).
    case textEncoder
    /// The UNet's output at a denoising step (1-based).
    case unet(step: Int)
    /// The latents after the scheduler's update at a denoising step (1-based).
    case scheduler(step: Int)
    /// The decoded image.
    case vaeDecoder

    public var description: String {
        switch self {
        case .textEncoder: return "the text encoder output"
        case let .unet(step): return "the UNet output at step \(step)"
        case let .scheduler(step): return "the latents after step \(step)"
        case .vaeDecoder: return "the VAE decoder output"
        }
    }

    /// What usually puts the stage out of range, for the error message.
    var likelyCause: String {
        switch self {
        case .textEncoder: return "the text encoder's weights or config (layer_norm_eps) are out of range"
        case .unet: return "the weights or --cfg-scale are out of range"
        case .scheduler: return "the scheduler config (betas), --cfg-scale or --eta are out of range"
        case .vaeDecoder: return "the VAE's weights or config (scaling_factor) are out of range"
        }
    }
}

/// A value that is not a finite number.
public enum NonFiniteValue: String, Sendable {
    case nan = "NaN"
    case infinity = "Inf"
}

/// Finds NaN and infinities in a tensor where they appear in a generation, so that they are reported with
/// their stage instead of spreading into the image.
enum NonFiniteCheck {
    /// NaN if the tensor holds one, else Inf if it holds one, else nil. One pass of integer max over the values'
    /// magnitude bits (a NaN's are above infinity's, a finite value's below), which vectorises.
    static func scan(_ t: Tensor) -> NonFiniteValue? {
        let infinityBits = Float.infinity.bitPattern
        var largest: UInt32 = 0
        let p = t.data
        for i in 0..<t.count { largest = max(largest, p[i].bitPattern & 0x7FFF_FFFF) }
        return largest > infinityBits ? .nan : largest == infinityBits ? .infinity : nil
    }

    /// Throws `PipelineError.nonFinite` naming `stage` when `t` holds NaN or an infinity.
    static func require(_ t: Tensor, _ stage: GenerationStage) throws {
        if let value = scan(t) { throw PipelineError.nonFinite(stage: stage, value: value) }
    }
}

/// diffusers' image postprocess for one value: (x / 2 + 0.5) clamped to [0, 1], times 255, rounded. NaN maps to
/// 0 and the infinities to the ends, so that the conversion never traps.
enum PixelConversion {
    static func byte(_ x: Float) -> UInt8 {
        let v = x / 2 + 0.5
        let clamped: Float = v > 0 ? (v < 1 ? v : 1) : 0   // NaN fails `v > 0`
        return UInt8((clamped * 255).rounded(.toNearestOrEven))
    }
}
