import CDatoAMX

extension Attention {
    /// True when the bf16 attention can run on AMX tiles (Intel CPUs since Sapphire Rapids; the environment
    /// variable `DATO_AMX=0` turns it off). Otherwise bf16 attention uses oneDNN's matrix products.
    public static var amxAvailable: Bool { dato_amx_available() == 1 }

    /// Whether bf16 attention may use the AMX kernel when it is available (tests turn it off to check the
    /// other path).
    nonisolated(unsafe) public static var amxEnabled = true

    /// The bf16 attention on AMX tiles (`dato_amx.c`): per (batch, head) the keys and values are packed to bf16
    /// tiles once, then blocks of 32 query rows run in parallel, each computing its scores on tiles, an fp32
    /// softmax and the probabilities-times-values product on tiles, all in the worker's own scratch memory.
    static func computeAMX(q: Rows, k: Rows, v: Rows, out: Rows, batch: Int, heads: Int, qkDim: Int, vDim: Int,
                           causal: Bool, probabilityMean: UnsafeMutablePointer<Float>?) {
        precondition(qkDim % heads == 0 && vDim % heads == 0, "attention: width not divisible by \(heads) heads")
        let dk = qkDim / heads, dv = vDim / heads
        let nq = q.tokens, nk = k.tokens
        let rowsPerBlock = 32
        let blocks = (nq + rowsPerBlock - 1) / rowsPerBlock
        let scale = 1 / Float(dk).squareRoot()
        let keys = UnsafeMutablePointer<UInt16>.allocate(capacity: dato_amx_keys_size(nk, dk))
        let values = UnsafeMutablePointer<UInt16>.allocate(capacity: dato_amx_values_size(nk, dv))
        let scratchBytes = dato_amx_scratch_size(nk, dk, dv)
        let scratch = (0..<Parallel.threadCount).map { _ in
            UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
        }
        defer { keys.deallocate(); values.deallocate(); scratch.forEach { $0.deallocate() } }
        Profiler.measure(.attention) {
            for b in 0..<batch {
                for h in 0..<heads {
                    let kp = k.base + b * nk * k.stride + h * dk, vp = v.base + b * nk * v.stride + h * dv
                    Parallel.workers { worker, workers in   // keys on one thread, values on another
                        if worker == 0 { dato_amx_pack_keys(kp, k.stride, nk, dk, keys) }
                        if worker == min(1, workers - 1) { dato_amx_pack_values(vp, v.stride, nk, dv, values) }
                    }
                    Parallel.workers { worker, workers in
                        var block = worker
                        while block < blocks {
                            let r0 = block * rowsPerBlock, rows = min(rowsPerBlock, nq - r0)
                            dato_amx_attention_block(q.base + (b * nq + r0) * q.stride + h * dk, q.stride, rows, r0,
                                                     causal ? 1 : 0, keys, values, nk, dk, dv, scale,
                                                     out.base + (b * nq + r0) * out.stride + h * dv, out.stride,
                                                     probabilityMean.map { $0 + (b * nq + r0) * nk }, 1 / Float(heads),
                                                     scratch[worker])
                            block += workers
                        }
                    }
                }
            }
        }
    }
}
