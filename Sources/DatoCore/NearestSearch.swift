import CDatoAMX
import CDatoKernels

/// Nearest-row search under the dot product, for rows of norm at most 1 (cosine similarity of unit-normalised
/// tokens): for every row a_i, the row b_j with the largest fp32 <a_i, b_j> (ties to the lower j) and its value.
///
/// Where the CPU has AMX, all similarities are first estimated by bf16 tile products (fp32 accumulation) and
/// only the candidates whose estimate lies within `margin` of the row's best estimate are recomputed in fp32.
/// The result is the fp32 search's: rounding both operands to bf16 changes a product of vectors of norm <= 1
/// by at most 2u + u^2 with u = 2^-8, and accumulation adds about k 2^-24 on each side, so the fp32 maximum
/// always lies within 2 x 0.00788 of the best estimate. Elsewhere one fp32 product does it all.
public enum NearestSearch {
    /// Twice the largest difference between a bf16 estimate and the fp32 product (see above), rounded up.
    public static let margin: Float = 0.016

    /// Whether the bf16 estimate runs first (on where the CPU has AMX; tests switch it).
    nonisolated(unsafe) public static var bf16Estimate = Attention.amxAvailable

    /// For each of the `m` rows of `a` [m, k], the index of its nearest row among the `n` rows of `b` [n, k] and
    /// that dot product; index 0 and -infinity when `n` is 0.
    public static func nearest(_ a: UnsafePointer<Float>, count m: Int, among b: UnsafePointer<Float>, count n: Int,
                               width k: Int) -> (index: [Int], similarity: [Float]) {
        var index = [Int](repeating: 0, count: m), best = [Float](repeating: -.infinity, count: m)
        guard m > 0, n > 0 else { return (index, best) }
        index.withUnsafeMutableBufferPointer { ip in
            best.withUnsafeMutableBufferPointer { bp in
                guard let ip = ip.baseAddress, let bp = bp.baseAddress else { return }
                if bf16Estimate && Attention.amxAvailable {
                    estimated(a, m, b, n, k, ip, bp)
                } else {
                    exhaustive(a, m, b, n, k, ip, bp)
                }
            }
        }
        return (index, best)
    }

    /// One fp32 product of all pairs, then each row's first maximum.
    static func exhaustive(_ a: UnsafePointer<Float>, _ m: Int, _ b: UnsafePointer<Float>, _ n: Int, _ k: Int,
                           _ index: UnsafeMutablePointer<Int>, _ best: UnsafeMutablePointer<Float>) {
        let sim = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { sim.deallocate() }
        Matmul.timesTransposed(a, b, m: m, n: n, k: k, into: sim)
        Parallel.chunks(m, minimumPerThread: 32) { r in
            for i in r {
                let row = sim + i * n
                var top = row[0], arg = 0
                for j in 1..<n where row[j] > top { top = row[j]; arg = j }
                index[i] = arg; best[i] = top
            }
        }
    }

    /// The AMX estimate and fp32 refinement: `b` packed once as bf16 tiles (in 32-row groups on the workers),
    /// then blocks of 32 rows of `a` on the workers, each estimating its similarities into the worker's own
    /// buffer and refining them at once.
    static func estimated(_ a: UnsafePointer<Float>, _ m: Int, _ b: UnsafePointer<Float>, _ n: Int, _ k: Int,
                          _ index: UnsafeMutablePointer<Int>, _ best: UnsafeMutablePointer<Float>) {
        let rowsPerBlock = 32, groups = (n + 31) / 32, paddedWidth = (k + 31) / 32 * 32
        let packed = UnsafeMutablePointer<UInt16>.allocate(capacity: dato_amx_keys_size(n, k))
        defer { packed.deallocate() }
        Parallel.chunks(groups, minimumPerThread: 4) { r in
            let first = r.lowerBound * 32, count = min(n, r.upperBound * 32) - first
            dato_amx_pack_keys(b + first * k, k, count, k, packed + first * paddedWidth)
        }
        // One cache line more than the padded row, so that a tile's 16 rows do not share one L1 set.
        let stride = groups * 32 + 16
        let estimateBytes = rowsPerBlock * stride * MemoryLayout<Float>.stride
        let scratchBytes = Int(dato_amx_similarity_scratch_size(k))
        let blocks = (m + rowsPerBlock - 1) / rowsPerBlock
        Parallel.workers { worker, workers in
            let memory = UnsafeMutableRawPointer.allocate(byteCount: estimateBytes + scratchBytes, alignment: 64)
            defer { memory.deallocate() }
            let estimate = memory.assumingMemoryBound(to: Float.self), scratch = memory + estimateBytes
            var block = worker
            while block < blocks {
                let r0 = block * rowsPerBlock, rows = min(rowsPerBlock, m - r0)
                dato_amx_similarities(a + r0 * k, k, rows, packed, n, k, estimate, stride, scratch)
                dato_nearest_refine(estimate, stride, a + r0 * k, b, rows, n, k, margin, index + r0, best + r0)
                block += workers
            }
        }
    }
}
