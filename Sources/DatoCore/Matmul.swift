import CDNNL

/// Plain row-major matrix products on oneDNN's sgemm (multithreaded when called outside the kernels' own
/// parallel regions), for policies that need similarity matrices.
public enum Matmul {
    /// C[m, n] = A[m, k] x B[n, k]^T (rows of A against rows of B); C's rows `ldc` apart (default n).
    public static func timesTransposed(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, m: Int, n: Int, k: Int,
                                       into c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
        dnnl_sgemm(78, 84, Int64(m), Int64(n), Int64(k), 1, a, Int64(k), b, Int64(k), 0, c, Int64(ldc ?? n))
    }
}
