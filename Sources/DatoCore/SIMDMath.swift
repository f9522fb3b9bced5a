/// Short vectors for the memory-bound Swift kernels (sums, adds). Transcendental kernels live in
/// CDatoKernels, where clang vectorises them reliably.
public typealias Vec = SIMD16<Float>

/// Number of lanes in `Vec`.
public let vecWidth = 16

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
