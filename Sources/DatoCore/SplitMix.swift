import Foundation

/// SplitMix64: a small seeded random stream for acceleration policies and the search (never the sampler's
/// generator). Sub-streams are keyed by mixing several integers into the seed, so, e.g., one block's draws
/// do not depend on which other blocks ran.
public struct SplitMix: Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A stream keyed by several values (e.g. run seed, salt, call, block).
    public init(key: UInt64...) {
        var s: UInt64 = 0x5851_f42d_4c95_7f2d
        for k in key {
            var m = SplitMix(seed: s ^ k)
            s = m.nextUInt64()
        }
        state = s
    }

    public mutating func nextUInt64() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Uniform integer in 0..<bound.
    public mutating func next(_ bound: Int) -> Int { Int(nextUInt64() % UInt64(bound)) }

    /// Uniform in (0, 1).
    public mutating func nextUniform() -> Double { (Double(nextUInt64() >> 11) + 0.5) / 9_007_199_254_740_992 }

    /// Standard normal (Box-Muller, one value per call).
    public mutating func nextNormal() -> Float {
        let u = nextUniform(), v = nextUniform()
        return Float((-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * v))
    }

    /// A stable 64-bit hash of a string (FNV-1a), for keying streams by module path.
    public static func hash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
