import CDatoAMX

extension Attention {
    /// The largest head size (of queries and keys, and of values) the fp32 kernel takes.
    public static let fp32KernelMaxHeadSize = 256

    /// Whether fp32 attention with heads of `dk` (queries, keys) and `dv` (values) runs on swift-dato's AVX-512
    /// kernel: `compute.runsFP32AttentionKernel` and both head sizes at most `fp32KernelMaxHeadSize` (the UNet's 40
    /// to 160, CLIP's 64). The VAE's single head of 512 keeps the GEMM-based kernel: at 4096 tokens its keys and
    /// values (16 MB) leave the cache between query blocks, and the kernel measured 1.19x the GEMMs' time on one
    /// Zen 4 core (1024 tokens: 0.78x; the UNet's 1024 x 40: 0.57-0.68x).
    public static func runsFP32Kernel(dk: Int, dv: Int, compute: ComputeSettings) -> Bool {
        compute.runsFP32AttentionKernel && max(dk, dv) <= fp32KernelMaxHeadSize
    }

    /// The fp32 attention on swift-dato's AVX-512 kernel (`dato_fp32_attention.c`): the keys of every (batch, head)
    /// are packed first (blocks of 12 keys, head dimension by head dimension), then the blocks of 32 query rows of
    /// all heads go to whichever worker is free, each computing its scores with the queries across vector lanes, an
    /// fp32 softmax to a float's accuracy and the product with the values (read in place) in the worker's own
    /// scratch memory. One shared queue instead of GEMM calls per chunk and a barrier per head: the small products
    /// of the UNet's attention (head sizes 40 to 160, 64 to 4096 tokens) ran at about half the fp32 peak as GEMM
    /// calls. `dk` and `dv` are the sizes of one head; `probabilityMean` as for `computeFP32`.
    static func computeFP32Kernel(q: Rows, k: Rows, v: Rows, out: Rows, batch: Int, heads: Int, dk: Int, dv: Int,
                                  causal: Bool, probabilityMean: UnsafeMutablePointer<Float>?, profiler: Profiler?) {
        let nq = q.tokens, nk = k.tokens
        let rowsPerBlock = 32
        let blocks = (nq + rowsPerBlock - 1) / rowsPerBlock
        let scale = 1 / Float(dk).squareRoot()
        let pairs = batch * heads
        let keySize = dato_fp32_attention_keys_size(nk, dk)
        let keys = UnsafeMutablePointer<Float>.allocate(capacity: pairs * keySize)
        let scratchBytes = dato_fp32_attention_scratch_size(nk, dk, dv)
        let scratch = (0..<Parallel.threadCount).map { _ in
            UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
        }
        defer { keys.deallocate(); scratch.forEach { $0.deallocate() } }
        profiler.measure(.attention, shape: "\(nq)x\(nk) tokens, \(heads)x\(dk), batch \(batch)") {
            Parallel.items(pairs) { p, _ in
                let b = p / heads, h = p % heads
                dato_fp32_attention_pack_keys(k.base + b * nk * k.stride + h * dk, k.stride, nk, dk, keys + p * keySize)
            }
            /// Query block `index` of pair `p`.
            func run(_ p: Int, _ index: Int, _ worker: Int) {
                let b = p / heads, h = p % heads, r0 = index * rowsPerBlock, rows = min(rowsPerBlock, nq - r0)
                dato_fp32_attention_block(q.base + (b * nq + r0) * q.stride + h * dk, q.stride, rows, r0, causal ? 1 : 0,
                                          keys + p * keySize, v.base + b * nk * v.stride + h * dv, v.stride, nk, dk, dv,
                                          scale, out.base + (b * nq + r0) * out.stride + h * dv, out.stride,
                                          probabilityMean.map { $0 + (b * nq + r0) * nk }, 1 / Float(heads),
                                          scratch[worker])
            }
            forEachQueryBlock(batch: batch, heads: heads, blocks: blocks, writesProbabilityMap: probabilityMean != nil, run)
        }
    }
}
