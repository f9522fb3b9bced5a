import DatoCore

/// A `TensorSource` that invents deterministic random weights for any requested name and shape,
/// like torch's default initialisation (uniform in +-1/sqrt(fan_in)); norm scales are near 1.
/// Used to run the full SD architecture for speed measurements without real weights.
public struct RandomSource: TensorSource {
    public let seed: UInt64
    public var sourceName: String { "random weights (seed \(seed))" }
    public var shapes: [String: [Int]]? { nil }

    public init(seed: UInt64 = 0) { self.seed = seed }

    public func load(_ name: String, shape: [Int]) throws -> Tensor {
        let t = Tensor(shape: shape, zeroed: false)
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        let isNormScale = shape.count == 1 && name.hasSuffix(".weight")
        let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : shape.first ?? 1
        let bound = isNormScale ? 0.1 : 1 / Float(max(fanIn, 1)).squareRoot()
        let offset: Float = isNormScale ? 1 : 0
        let base = h, p = t.data
        Parallel.chunks(t.count, minimumPerThread: 1 << 16) { r in
            for i in r {
                // SplitMix64 of (name hash, index): order-independent, so any thread split gives the same values.
                var z = base &+ UInt64(i) &* 0x9e37_79b9_7f4a_7c15
                z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
                z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
                z ^= z >> 31
                let u = Float(z >> 40) * (1 / Float(1 << 24))
                p[i] = offset + bound * (2 * u - 1)
            }
        }
        return t
    }
}
