import CDatoAMX
import CDatoKernels

/// Nearest-row search under the dot product, for rows of norm at most 1 (cosine similarity of unit-normalised
/// tokens): for every row a_i, the row b_j with the largest fp32 <a_i, b_j> (ties to the lower j) and its value.
///
/// Where the CPU has AMX, all similarities are first estimated by bf16 tile products (fp32 accumulation) and
/// only the candidates whose estimate lies within `margin` of the row's best estimate are recomputed in fp32.
/// The result is the fp32 search's: rounding both operands to bf16 changes a product of vectors of norm <= 1
/// by at most 2u + u^2 with u = 2^-8, and accumulation adds about k 2^-24 on each side, so the fp32 maximum
/// always lies within 2 x 0.00788 of the best estimate. Where the rows crowd (a flat image region: many
/// estimates of a block within the margin), the block is recomputed as one fp32 product instead, which costs
/// less than that many separate products; when the first block crowds, the whole search is one fp32 product.
/// Without AMX one fp32 product does it all.
public enum NearestSearch {
    /// Twice the largest difference between a bf16 estimate and the fp32 product (see above), rounded up.
    public static let margin: Float = 0.016

    /// How a search runs (part of `ComputeSettings`).
    public struct Options: Sendable, Equatable {
        /// Whether the bf16 estimate runs first (where the CPU has AMX; without it the search is one fp32 product
        /// whatever this says).
        public var bf16Estimate = CPUFeatures.amx
        /// Above this fraction of candidates among a block's estimates, the block is recomputed by one fp32
        /// product (a separate fp32 product per candidate costs about 3.5 times as much per pair).
        public var crowdedFraction = 0.25

        /// The defaults: estimates where the CPU has AMX, blocks recomputed above a quarter of candidates.
        public init() {}
    }

    /// For each of the `m` rows of `a` [m, k], the index of its nearest row among the `n` rows of `b` [n, k] and
    /// that dot product; index 0 and -infinity when `n` is 0.
    public static func nearest(_ a: UnsafePointer<Float>, count m: Int, among b: UnsafePointer<Float>, count n: Int,
                               width k: Int, options: Options = Options()) -> (index: [Int], similarity: [Float]) {
        var index = [Int](repeating: 0, count: m), best = [Float](repeating: -.infinity, count: m)
        guard m > 0, n > 0 else { return (index, best) }
        index.withUnsafeMutableBufferPointer { ip in
            best.withUnsafeMutableBufferPointer { bp in
                guard let ip = ip.baseAddress, let bp = bp.baseAddress else { return }
                if !(options.bf16Estimate && CPUFeatures.amx && estimated(a, m, b, n, k, ip, bp, options.crowdedFraction)) {
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
            dato_first_max_rows(sim + r.lowerBound * n, n, r.count, n, index + r.lowerBound, best + r.lowerBound)
        }
    }

    /// The AMX estimate and fp32 refinement: `b` packed once as bf16 tiles (in 32-row groups on the workers),
    /// then blocks of 32 rows of `a` on the workers, each estimating its similarities into the worker's own
    /// buffer and refining them at once (or, when crowded, recomputing them as one fp32 product). The first block
    /// runs alone and decides: when it is crowded (likely a flat image), nothing is written and false returned,
    /// so that the caller runs the exhaustive search, one multithreaded fp32 product.
    static func estimated(_ a: UnsafePointer<Float>, _ m: Int, _ b: UnsafePointer<Float>, _ n: Int, _ k: Int,
                          _ index: UnsafeMutablePointer<Int>, _ best: UnsafeMutablePointer<Float>,
                          _ crowdedFraction: Double) -> Bool {
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
        /// Runs `body` with an estimate buffer (plus the AMX scratch) and a threshold per row of a block.
        func withBuffers<T>(_ body: (UnsafeMutableRawPointer, UnsafeMutablePointer<Float>) -> T) -> T {
            let memory = UnsafeMutableRawPointer.allocate(byteCount: estimateBytes + scratchBytes, alignment: 64)
            let threshold = UnsafeMutablePointer<Float>.allocate(capacity: rowsPerBlock)
            defer { memory.deallocate(); threshold.deallocate() }
            return body(memory, threshold)
        }
        /// Searches for the rows of `block`; returns whether the block was crowded (then writes nothing unless
        /// `recomputeCrowded`).
        func search(_ block: Int, _ memory: UnsafeMutableRawPointer, _ threshold: UnsafeMutablePointer<Float>,
                    recomputeCrowded: Bool) -> Bool {
            let r0 = block * rowsPerBlock, rows = min(rowsPerBlock, m - r0), ar = a + r0 * k
            let estimate = memory.assumingMemoryBound(to: Float.self)
            dato_amx_similarities(ar, k, rows, packed, n, k, estimate, stride, memory + estimateBytes)
            let candidates = dato_nearest_candidates(estimate, stride, rows, n, margin, threshold)
            let crowded = Double(candidates) > crowdedFraction * Double(rows * n)
            if crowded {
                guard recomputeCrowded else { return true }
                Matmul.timesTransposed(ar, b, m: rows, n: n, k: k, into: estimate, ldc: stride)
                dato_first_max_rows(estimate, stride, rows, n, index + r0, best + r0)
            } else {
                dato_nearest_refine(estimate, stride, ar, b, rows, n, k, threshold, index + r0, best + r0)
            }
            return crowded
        }
        if withBuffers({ search(0, $0, $1, recomputeCrowded: false) }) { return false }
        Parallel.workers { worker, workers in
            withBuffers { memory, threshold in
                var block = 1 + worker
                while block < blocks {
                    _ = search(block, memory, threshold, recomputeCrowded: true)
                    block += workers
                }
            }
        }
        return true
    }
}
