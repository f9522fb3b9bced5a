/// Vectorised transcendental functions for the Swift kernels (16 lanes, fp32).
public typealias Vec = SIMD16<Float>

/// Number of lanes in `Vec`.
public let vecWidth = 16

/// e^x with a Cephes-style range reduction and degree-6 polynomial (relative error below 2e-7).
@inline(__always)
public func vexp(_ v: Vec) -> Vec {
    let x = v.clamped(lowerBound: Vec(repeating: -87.3), upperBound: Vec(repeating: 88.3))
    let n = (x * 1.442_695_04).rounded(.toNearestOrEven)
    var r = x - n * 0.693_359_375
    r = r + n * 2.121_944_4e-4
    var p = Vec(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_6e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_1e-1
    p = p * (r * r) + r + 1
    let bits = (SIMD16<Int32>(n, rounding: .towardZero) &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: Vec.self)
}

/// erf(x) by Abramowitz and Stegun 7.1.26 refined (absolute error below 1.5e-7).
@inline(__always)
public func verf(_ x: Vec) -> Vec {
    let a = x.replacing(with: -x, where: x .< 0)
    let t = 1 / (1 + 0.327_591_1 * a)
    var y = Vec(repeating: 1.061_405_429)
    y = y * t - 1.453_152_027
    y = y * t + 1.421_413_741
    y = y * t - 0.284_496_736
    y = y * t + 0.254_829_592
    let e: Vec = 1 - y * t * vexp(-(a * a))
    return e.replacing(with: -e, where: x .< 0)
}

/// The logistic sigmoid 1 / (1 + e^-x).
@inline(__always)
public func vsigmoid(_ x: Vec) -> Vec { 1 / (1 + vexp(-x)) }

/// Loads 16 floats from `p`.
@inline(__always)
public func vload(_ p: UnsafePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

/// Stores 16 floats to `p`.
@inline(__always)
public func vstore(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

/// Applies `f` lane-wise over `n` floats from `src` to `dst` (which may be the same buffer).
@inline(__always)
public func vmap(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ f: (Vec) -> Vec) {
    var i = 0
    while i + vecWidth <= n {
        vstore(f(vload(src + i)), dst + i)
        i += vecWidth
    }
    if i < n {
        var tail = Vec(repeating: 0)
        for j in 0..<(n - i) { tail[j] = src[i + j] }
        let r = f(tail)
        for j in 0..<(n - i) { dst[i + j] = r[j] }
    }
}
