import DatoCore
import Foundation

/// diffusers `Timesteps` + `TimestepEmbedding`: sinusoidal features of the timestep, then
/// linear_1, SiLU, linear_2.
public final class TimestepEmbedding {
    public let channels: Int
    let flipSinToCos: Bool
    let freqShift: Int
    let linear1: Linear, linear2: Linear

    init(_ s: Scope, channels: Int, embedChannels: Int, flipSinToCos: Bool, freqShift: Int) throws {
        self.channels = channels
        self.flipSinToCos = flipSinToCos
        self.freqShift = freqShift
        linear1 = try s["linear_1"].linear(channels, embedChannels)
        linear2 = try s["linear_2"].linear(embedChannels, embedChannels)
    }

    /// `get_timestep_embedding` in fp32, as torch computes it: [B, channels].
    public func sinusoidal(_ timesteps: [Float]) -> Tensor {
        let half = channels / 2
        let out = Tensor(shape: [timesteps.count, channels], zeroed: false)
        let logPeriod = Float(-Foundation.log(10000.0))
        for (b, t) in timesteps.enumerated() {
            for i in 0..<half {
                let freq = Foundation.exp(logPeriod * Float(i) / Float(half - freqShift))
                let arg = t * freq
                let (first, second) = flipSinToCos ? (Foundation.cos(arg), Foundation.sin(arg)) : (Foundation.sin(arg), Foundation.cos(arg))
                out[b * channels + i] = first
                out[b * channels + half + i] = second
            }
        }
        return out
    }

    /// The time embedding [B, embedChannels].
    public func callAsFunction(_ timesteps: [Float]) throws -> Tensor {
        let h = try linear1(sinusoidal(timesteps))
        Elementwise.silu(h)
        return try linear2(h)
    }
}
