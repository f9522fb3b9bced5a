/// The 32-bit Mersenne Twister (MT19937), seeded as PyTorch's CPU generator seeds it.
public struct MersenneTwister: Sendable {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624

    /// `torch.manual_seed(seed)`: the standard MT19937 initialisation from the seed's low 32 bits.
    public init(seed: UInt64) {
        state[0] = UInt32(truncatingIfNeeded: seed)
        for i in 1..<624 {
            let prev = state[i - 1]
            state[i] = 1_812_433_253 &* (prev ^ (prev >> 30)) &+ UInt32(i)
        }
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7fff_ffff)
            var next = state[(i + 397) % 624] ^ (y >> 1)
            if y & 1 != 0 { next ^= 0x9908_b0df }
            state[i] = next
        }
        index = 0
    }

    /// The next 32 random bits.
    public mutating func next32() -> UInt32 {
        if index >= 624 { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// 64 random bits from two draws, the first as the high half (PyTorch's `random64`).
    public mutating func next64() -> UInt64 {
        let hi = UInt64(next32()), lo = UInt64(next32())
        return (hi << 32) | lo
    }
}
