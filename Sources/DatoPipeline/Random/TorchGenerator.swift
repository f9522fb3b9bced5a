import Foundation

/// A port of PyTorch's CPU random generator as `torch.randn` uses it, so that the same seed gives
/// the same initial latents (and ancestral-sampler noise) as diffusers with a CPU generator.
///
/// `torch.randn` on a float tensor takes one of two paths:
/// - 16 or more elements: fill with 24-bit uniform floats, then Box-Muller on blocks of 16
///   (element j pairs with j + 8); when the count is not a multiple of 16 the last 16 elements are
///   drawn again and transformed again.
/// - fewer than 16: one double-precision normal per element from 53-bit uniforms; each Box-Muller
///   step yields two values and the generator caches the second for the next request.
public struct TorchGenerator: Sendable {
    private var engine: MersenneTwister
    private var cachedNormal: Double?

    /// `torch.Generator().manual_seed(seed)`.
    public init(seed: UInt64) {
        engine = MersenneTwister(seed: seed)
    }

    /// `torch.randn(count, generator=self)` as fp32 values, in the tensor's memory order.
    public mutating func randn(_ count: Int) -> [Float] {
        if count >= 16 { return vectorPath(count) }
        return (0..<count).map { _ in Float(normalDouble()) }
    }

    private mutating func uniformFloat() -> Float {
        Float(next24()) * (1 / Float(1 << 24))
    }

    private mutating func next24() -> UInt32 { engine.next32() & 0x00ff_ffff }

    private mutating func vectorPath(_ count: Int) -> [Float] {
        var data = (0..<count).map { _ in uniformFloat() }
        var i = 0
        while i + 16 <= count {
            boxMuller16(&data, at: i)
            i += 16
        }
        if count % 16 != 0 {
            let start = count - 16
            for j in 0..<16 { data[start + j] = uniformFloat() }
            boxMuller16(&data, at: start)
        }
        return data
    }

    private func boxMuller16(_ d: inout [Float], at s: Int) {
        for j in 0..<8 {
            let u1 = 1 - d[s + j], u2 = d[s + j + 8]
            // fp32 arithmetic as PyTorch's kernel does it (theta is formed in double, then rounded).
            let radius = (-2 * Foundation.log(u1)).squareRoot()
            let theta = Float(2 * Double.pi * Double(u2))
            d[s + j] = radius * Foundation.cos(theta)
            d[s + j + 8] = radius * Foundation.sin(theta)
        }
    }

    private mutating func normalDouble() -> Double {
        if let c = cachedNormal {
            cachedNormal = nil
            return c
        }
        let u1 = Double(engine.next64() & ((1 << 53) - 1)) * 0x1p-53
        let u2 = Double(engine.next64() & ((1 << 53) - 1)) * 0x1p-53
        let r = (-2 * Foundation.log1p(-u2)).squareRoot()
        let theta = 2 * Double.pi * u1
        cachedNormal = r * Foundation.sin(theta)
        return r * Foundation.cos(theta)
    }
}
