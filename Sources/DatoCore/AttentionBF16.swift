import CDatoKernels

extension Attention {
    /// `compute` with the probabilities-times-values product in bf16 (fp32 accumulation): the scores Q K^T stay
    /// an fp32 GEMM (its inner dimension, the head size, is too small for bf16 kernels to gain: measured
    /// 71 against 52 GFLOP/s on one thread), the softmax is fp32, and the probabilities are rounded to bf16
    /// for the product with the values (inner dimension Nk: 158 against 31 GFLOP/s).
    static func computeBF16(q: Rows, k: Rows, v: Rows, out: Rows, batch: Int, heads: Int, qkDim: Int, vDim: Int,
                            causal: Bool, chunk: Int, probabilityMean: UnsafeMutablePointer<Float>?,
                            compute: ComputeSettings) throws {
        precondition(qkDim % heads == 0 && vDim % heads == 0, "attention: width not divisible by \(heads) heads")
        let dk = qkDim / heads, dv = vDim / heads
        let nq = q.tokens, nk = k.tokens
        let chunk = max(1, min(chunk, nq))
        let chunks = (nq + chunk - 1) / chunk
        let tail = nq - (chunks - 1) * chunk
        let scale = 1 / Float(dk).squareRoot()
        // Products for full chunks and the last (possibly shorter) one, made before the workers start.
        let valuesFull = try BF16GEMM.shape(m: chunk, n: dv, k: nk), valuesTail = try BF16GEMM.shape(m: tail, n: dv, k: nk)
        let scratchBytes = max(valuesFull.scratchBytes, valuesTail.scratchBytes)
        let kt = UnsafeMutablePointer<Float>.allocate(capacity: dk * nk)
        let vh = UnsafeMutablePointer<UInt16>.allocate(capacity: nk * dv)
        defer { kt.deallocate(); vh.deallocate() }
        let backend = compute.attentionGEMM
        compute.profiler.measure(.attention) {
            for b in 0..<batch {
                for h in 0..<heads {
                    packHead(k: k, v: v, batch: b, head: h, dk: dk, dv: dv, keysInto: kt) { j, row in
                        dato_to_bf16(row, dv, 1, vh + j * dv)
                    }
                    Parallel.workers { worker, workers in
                        let scores = UnsafeMutablePointer<Float>.allocate(capacity: chunk * nk)
                        let probs = UnsafeMutablePointer<UInt16>.allocate(capacity: chunk * nk)
                        let ob = UnsafeMutablePointer<Float>.allocate(capacity: chunk * dv)
                        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(scratchBytes, 64), alignment: 64)
                        defer { scores.deallocate(); probs.deallocate(); ob.deallocate(); scratch.deallocate() }
                        var c = worker
                        while c < chunks {
                            let r0 = c * chunk, rows = min(chunk, nq - r0)
                            let full = rows == chunk
                            let qp = q.base + (b * nq + r0) * q.stride + h * dk
                            gemm(backend, rows, nk, dk, scale, qp, q.stride, kt, nk, scores, nk)
                            dato_softmax_rows(scores, rows, nk, nk, causal ? r0 : -1)
                            if let pm = probabilityMean { addToMean(scores, count: rows * nk, heads: heads, pm + (b * nq + r0) * nk) }
                            dato_to_bf16(scores, rows * nk, 1, probs)
                            (full ? valuesFull : valuesTail).run(probs, vh, ob, scratch: scratch)
                            for i in 0..<rows {
                                (out.base + (b * nq + r0 + i) * out.stride + h * dv).update(from: ob + i * dv, count: dv)
                            }
                            c += workers
                        }
                    }
                }
            }
        }
    }
}
