import CDatoDNNL
import Foundation

/// A dense bf16 matrix product C[m, n] (fp32) = A[m, k] x B[k, n] on oneDNN's bf16 kernels (AMX here), run on
/// the calling thread so the attention kernel's workers can each run their own. One primitive per shape,
/// created on first use and kept for the life of the process.
final class BF16GEMM: @unchecked Sendable {
    let handle: OpaquePointer
    /// Bytes of scratch memory each concurrent run needs.
    let scratchBytes: Int

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [[Int]: BF16GEMM] = [:]

    private init(m: Int, n: Int, k: Int) throws {
        var err = [CChar](repeating: 0, count: 256)
        guard let h = dato_bgemm_create(m, n, k, &err, err.count) else { throw ComputeError.backend(String(cString: err)) }
        handle = h
        scratchBytes = dato_bgemm_scratch_size(h)
    }

    deinit { dato_bgemm_destroy(handle) }

    /// The product for this shape (created once).
    static func shape(m: Int, n: Int, k: Int) throws -> BF16GEMM {
        lock.lock(); defer { lock.unlock() }
        if let g = cache[[m, n, k]] { return g }
        let g = try BF16GEMM(m: m, n: n, k: k)
        cache[[m, n, k]] = g
        return g
    }

    /// C = A x B; `scratch` holds at least `scratchBytes` bytes not used by another thread meanwhile.
    func run(_ a: UnsafePointer<UInt16>, _ b: UnsafePointer<UInt16>, _ c: UnsafeMutablePointer<Float>,
             scratch: UnsafeMutableRawPointer?) {
        let rc = dato_bgemm_exec(handle, a, b, c, scratch)
        precondition(rc == 0, "oneDNN bf16 matmul failed")
    }
}
