import CDatoKernels
import COpenBLAS

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
    public static func scaledDotProduct(q: Tensor, k: Tensor, v: Tensor, heads: Int, causal: Bool = false,
                                        chunk: Int = 128) -> Tensor {
        precondition(q.shape.count == 3 && k.shape.count == 3 && v.shape.count == 3, "attention expects [B, N, C]")
        precondition(k.dim(1) == v.dim(1) && q.dim(0) == k.dim(0), "attention: \(q.shape) \(k.shape) \(v.shape)")
        let out = Tensor(shape: [q.dim(0), q.dim(1), v.dim(2)], zeroed: false)
        compute(q: Rows(q), k: Rows(k), v: Rows(v), out: Rows(out), batch: q.dim(0), heads: heads,
                qkDim: q.dim(2), vDim: v.dim(2), causal: causal, chunk: chunk)
        return out
    }

    /// The kernel on strided rows; `qkDim` and `vDim` are the total (all-head) widths of Q/K and V.
    public static func compute(q: Rows, k: Rows, v: Rows, out: Rows, batch: Int, heads: Int, qkDim: Int,
                               vDim: Int, causal: Bool, chunk: Int = 128) {
        _ = blasSingleThreaded
        precondition(qkDim % heads == 0 && vDim % heads == 0, "attention: width not divisible by \(heads) heads")
        let dk = qkDim / heads, dv = vDim / heads
        let nq = q.tokens, nk = k.tokens
        let chunk = max(1, min(chunk, nq))
        let chunksPerHead = (nq + chunk - 1) / chunk
        let items = batch * heads * chunksPerHead
        let scale = 1 / Float(dk).squareRoot()
        Profiler.measure(.attention) { Parallel.workers { worker, workers in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: chunk * nk)
            defer { scores.deallocate() }
            var item = worker
            while item < items {
                let b = item / (heads * chunksPerHead)
                let h = (item / chunksPerHead) % heads
                let r0 = (item % chunksPerHead) * chunk
                let rows = min(chunk, nq - r0)
                let qp = q.base + (b * nq + r0) * q.stride + h * dk
                let kp = k.base + b * nk * k.stride + h * dk
                let vp = v.base + b * nk * v.stride + h * dv
                let op = out.base + (b * nq + r0) * out.stride + h * dv
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(nk), Int32(dk),
                            scale, qp, Int32(q.stride), kp, Int32(k.stride), 0, scores, Int32(nk))
                dato_softmax_rows(scores, rows, nk, nk, causal ? r0 : -1)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(dv), Int32(nk),
                            1, scores, Int32(nk), vp, Int32(v.stride), 0, op, Int32(out.stride))
                item += workers
            }
        } }
    }
}
