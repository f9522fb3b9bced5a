import CDatoAMX
import CDatoKernels
import COpenBLAS
import CDNNL

/// Multi-head scaled-dot-product attention over token sequences `[B, N, C]`, C = heads x head size.
///
/// Queries are processed in chunks of rows, so at most `chunk x Nk` scores per thread exist at any
/// time: the full `[heads, N, N]` probability tensor is never materialised.
public enum Attention {
    private static let blasSingleThreaded: Void = { openblas_set_num_threads(1) }()

    /// A strided view of token rows: `rows[b, n, :]` starts at `base + (b * n_tokens + n) * stride`.
    public struct Rows {
        public var base: UnsafeMutablePointer<Float>
        public var tokens: Int
        public var stride: Int
        public init(base: UnsafeMutablePointer<Float>, tokens: Int, stride: Int) {
            self.base = base; self.tokens = tokens; self.stride = stride
        }
        public init(_ t: Tensor) {
            self.init(base: t.data, tokens: t.dim(1), stride: t.dim(-1))
        }
    }

    /// softmax(Q K^T / sqrt(d)) V per head. `q`: [B, Nq, C]; `k`, `v`: [B, Nk, C]. Returns [B, Nq, C].
    ///
    /// With `probabilityMean` ([B, Nq, Nk]), the mean over heads of the softmax probabilities is written
    /// there too, accumulated chunk by chunk (the per-head probabilities are never stored).
    /// `compute` chooses the kernel: in bf16 the products run in bf16 with fp32 accumulation and an fp32 softmax,
    /// both on AMX tiles or else AVX512-BF16 dot products where the settings and the CPU allow (`computePacked`),
    /// otherwise only the probabilities-times-values product (`computeBF16`); in fp32 `computeFP32` with the
    /// settings' fp32 kernel, softmax and GEMM. `chunk` applies to the GEMM-based kernels.
    public static func scaledDotProduct(q: Tensor, k: Tensor, v: Tensor, heads: Int, causal: Bool = false,
                                        chunk: Int = 64, probabilityMean: Tensor? = nil,
                                        compute: ComputeSettings = ComputeSettings()) throws -> Tensor {
        precondition(q.shape.count == 3 && k.shape.count == 3 && v.shape.count == 3, "attention expects [B, N, C]")
        precondition(k.dim(1) == v.dim(1) && q.dim(0) == k.dim(0), "attention: \(q.shape) \(k.shape) \(v.shape)")
        if let p = probabilityMean {
            precondition(p.shape == [q.dim(0), q.dim(1), k.dim(1)], "attention: probability map \(p.shape)")
            p.data.update(repeating: 0, count: p.count)
        }
        let out = Tensor(shape: [q.dim(0), q.dim(1), v.dim(2)], zeroed: false)
        if let kernel = compute.packedAttention {
            computePacked(kernel, q: AMXInput(q), k: AMXInput(k), v: AMXInput(v), out: AMXOutput(out), batch: q.dim(0),
                          heads: heads, qkDim: q.dim(2), vDim: v.dim(2), causal: causal,
                          probabilityMean: probabilityMean?.data, profiler: compute.profiler)
        } else if compute.precision == .bf16 {
            try computeBF16(q: Rows(q), k: Rows(k), v: Rows(v), out: Rows(out), batch: q.dim(0), heads: heads,
                            qkDim: q.dim(2), vDim: v.dim(2), causal: causal, chunk: chunk,
                            probabilityMean: probabilityMean?.data, compute: compute)
        } else {
            computeFP32(q: Rows(q), k: Rows(k), v: Rows(v), out: Rows(out), batch: q.dim(0), heads: heads,
                        qkDim: q.dim(2), vDim: v.dim(2), causal: causal, chunk: chunk,
                        probabilityMean: probabilityMean?.data, compute: compute)
        }
        return out
    }

    /// Whether attention in `compute` reads bf16 operands and writes a bf16 result directly
    /// (`scaledDotProductForBF16Layers` without conversions), so bf16 layers around it should hand over bf16.
    public static func exchangesBF16(_ compute: ComputeSettings) -> Bool { compute.packedAttention != nil }

    /// bf16 attention within bf16 layers: where it `exchangesBF16`, `q`, `k` and `v` may be bf16 (the
    /// projections' rounded results) and the result is written rounded to bf16 (no fp32 copy for the next layer
    /// to convert); elsewhere it is `scaledDotProduct`'s fp32 result on the (widened) inputs.
    public static func scaledDotProductForBF16Layers(q: any LayerInput, k: any LayerInput, v: any LayerInput,
                                                     heads: Int, compute: ComputeSettings) throws -> any LayerInput {
        let bf16 = compute.with(precision: .bf16)
        guard let kernel = bf16.packedAttention else {
            return try scaledDotProduct(q: q.widened(), k: k.widened(), v: v.widened(), heads: heads, compute: bf16)
        }
        precondition(q.shape.count == 3 && k.shape.count == 3 && v.shape.count == 3, "attention expects [B, N, C]")
        precondition(k.dim(1) == v.dim(1) && q.dim(0) == k.dim(0), "attention: \(q.shape) \(k.shape) \(v.shape)")
        let out = BF16Tensor(shape: [q.dim(0), q.dim(1), v.dim(2)])
        computePacked(kernel, q: AMXInput(q), k: AMXInput(k), v: AMXInput(v), out: AMXOutput(out), batch: q.dim(0),
                      heads: heads, qkDim: q.dim(2), vDim: v.dim(2), causal: false, probabilityMean: nil,
                      profiler: compute.profiler)
        return out
    }

    /// The fp32 kernel on strided rows; `qkDim` and `vDim` are the total (all-head) widths of Q/K and V; `compute`
    /// gives its kernels and its profiler.
    ///
    /// Where `runsFP32Kernel`, swift-dato's AVX-512 kernel runs (`computeFP32Kernel`; `chunk` does not apply).
    /// Otherwise, for each (batch, head) the head's keys are packed transposed ([d, Nk]) and its values packed
    /// ([Nk, d]) so both GEMMs read contiguous memory; then query chunks run in parallel, each as
    /// scores = scale * Q K^T, softmax, out = P V. `probabilityMean` ([B, Nq, Nk], zeroed by the caller)
    /// receives P / heads summed over heads.
    public static func computeFP32(q: Rows, k: Rows, v: Rows, out: Rows, batch: Int, heads: Int, qkDim: Int,
                                   vDim: Int, causal: Bool, chunk: Int = 64,
                                   probabilityMean: UnsafeMutablePointer<Float>? = nil,
                                   compute: ComputeSettings = ComputeSettings()) {
        _ = blasSingleThreaded
        precondition(qkDim % heads == 0 && vDim % heads == 0, "attention: width not divisible by \(heads) heads")
        let dk = qkDim / heads, dv = vDim / heads
        if runsFP32Kernel(dk: dk, dv: dv, compute: compute) {
            computeFP32Kernel(q: q, k: k, v: v, out: out, batch: batch, heads: heads, dk: dk, dv: dv, causal: causal,
                              probabilityMean: probabilityMean, profiler: compute.profiler)
            return
        }
        let nq = q.tokens, nk = k.tokens
        let chunk = max(1, min(chunk, nq))
        let chunks = (nq + chunk - 1) / chunk
        let scale = 1 / Float(dk).squareRoot()
        // The AVX-512 softmax (fewer passes, powers of two) unless a probability map needs normalised rows.
        let fastSoftmax = probabilityMean == nil && compute.runsAVX512Softmax
        let backend = compute.attentionGEMM
        let log2e: Float = 1.44269504
        let kt = UnsafeMutablePointer<Float>.allocate(capacity: dk * nk)
        let vh = UnsafeMutablePointer<Float>.allocate(capacity: nk * dv)
        defer { kt.deallocate(); vh.deallocate() }
        compute.profiler.measure(.attention) {
            for b in 0..<batch {
                for h in 0..<heads {
                    packHead(k: k, v: v, batch: b, head: h, dk: dk, dv: dv, keysInto: kt) { j, row in
                        (vh + j * dv).update(from: row, count: dv)
                    }
                    Parallel.workers { worker, workers in
                        let scores = UnsafeMutablePointer<Float>.allocate(capacity: chunk * nk)
                        let inverse = UnsafeMutablePointer<Float>.allocate(capacity: chunk)
                        defer { scores.deallocate(); inverse.deallocate() }
                        var c = worker
                        while c < chunks {
                            let r0 = c * chunk, rows = min(chunk, nq - r0)
                            let qp = q.base + (b * nq + r0) * q.stride + h * dk
                            let op = out.base + (b * nq + r0) * out.stride + h * dv
                            if fastSoftmax {
                                // Unnormalised 2^(s - max) on log2-scaled scores; rows scaled by 1 / sum after P V.
                                gemm(backend, rows, nk, dk, scale * log2e, qp, q.stride, kt, nk, scores, nk)
                                dato_exp2_rows(scores, rows, nk, nk, causal ? r0 : -1, inverse)
                                gemm(backend, rows, dv, nk, 1, scores, nk, vh, dv, op, out.stride)
                                for i in 0..<rows {
                                    let row = op + i * out.stride
                                    for j in 0..<dv { row[j] *= inverse[i] }
                                }
                            } else {
                                gemm(backend, rows, nk, dk, scale, qp, q.stride, kt, nk, scores, nk)
                                dato_softmax_rows(scores, rows, nk, nk, causal ? r0 : -1)
                                if let pm = probabilityMean { addToMean(scores, count: rows * nk, heads: heads, pm + (b * nq + r0) * nk) }
                                gemm(backend, rows, dv, nk, 1, scores, nk, vh, dv, op, out.stride)
                            }
                            c += workers
                        }
                    }
                }
            }
        }
    }

    /// Packs head `h` of batch `b` for the chunk loop: its keys transposed into `kt` ([d, Nk]), and each value
    /// row j handed to `value(j, row)` (which copies or converts it).
    static func packHead(k: Rows, v: Rows, batch b: Int, head h: Int, dk: Int, dv: Int,
                         keysInto kt: UnsafeMutablePointer<Float>, value: (Int, UnsafeMutablePointer<Float>) -> Void) {
        let nk = k.tokens
        let kp = k.base + b * nk * k.stride + h * dk
        let vp = v.base + b * nk * v.stride + h * dv
        Parallel.chunks(nk, minimumPerThread: 256) { r in
            for j in r {
                for d in 0..<dk { kt[d * nk + j] = kp[j * k.stride + d] }
                value(j, vp + j * v.stride)
            }
        }
    }

    /// target += probabilities / heads (one head's share of the head-mean probability map).
    static func addToMean(_ probabilities: UnsafePointer<Float>, count: Int, heads: Int, _ target: UnsafeMutablePointer<Float>) {
        _ = blasSingleThreaded
        cblas_saxpy(Int32(count), 1 / Float(heads), probabilities, 1, target, 1)
    }

    /// Single-threaded row-major C = alpha A B (A: m x k, B: k x n) by `backend`.
    @inline(__always)
    static func gemm(_ backend: GEMMBackend, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
                     _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        if backend == .onednn {
            dnnl_sgemm(78, 78, Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda), b, Int64(ldb), 0, c, Int64(ldc))
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                        alpha, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
        }
    }
}
