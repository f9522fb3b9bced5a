import DatoCore
import Foundation
import XCTest

/// swift-dato's AVX-512 fp32 attention kernel (`dato_fp32_attention.c`) against a double-precision reference, at the
/// SD 1.5 UNet's head sizes (40, 80, 160) and others that leave a narrow last value tile, with query counts that are
/// not multiples of its 32-row blocks and key counts that are not multiples of its 12-key tiles or 128-key steps,
/// causal or not, with and without the head-mean probability map.
final class FP32AttentionKernelTests: XCTestCase {
    /// (queries, keys, heads, head size, causal)
    static let cases: [(nq: Int, nk: Int, heads: Int, d: Int, causal: Bool)] = [
        (70, 300, 2, 40, false),   // three 128-key steps, the last partial; three query blocks, the last of 6 rows
        (33, 100, 2, 80, false),
        (40, 13, 1, 160, false),   // cross-attention-like: few keys
        (77, 77, 2, 40, true),     // CLIP-like causal mask over several query blocks
        (45, 45, 1, 64, true),
        (20, 150, 1, 44, false),   // value tiles of 12, 12, 12 and 8 columns
        (5, 9, 3, 7, false),       // one value tile of 7 columns
    ]

    func testAgainstDoublePrecision() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "the kernel needs AVX-512")
        var settings = ComputeSettings()
        settings.fp32AttentionKernel = true
        for (i, c) in Self.cases.enumerated() {
            let what = "case \(i) \(c)"
            let q = Reference.random([2, c.nq, c.heads * c.d], seed: UInt64(60 + i), scale: 2)
            let k = Reference.random([2, c.nk, c.heads * c.d], seed: UInt64(70 + i), scale: 2)
            let v = Reference.random([2, c.nk, c.heads * c.d], seed: UInt64(80 + i))
            let (expected, expectedMap) = Self.reference(q: q, k: k, v: v, heads: c.heads, causal: c.causal)
            let plain = try Attention.scaledDotProduct(q: q, k: k, v: v, heads: c.heads, causal: c.causal, compute: settings)
            assertClose(plain, expected, tol: 1e-5, what)
            let map = Tensor(shape: [2, c.nq, c.nk])
            let mapped = try Attention.scaledDotProduct(q: q, k: k, v: v, heads: c.heads, causal: c.causal,
                                                        probabilityMean: map, compute: settings)
            assertClose(mapped, expected, tol: 1e-5, "\(what) with a map")
            assertClose(map, expectedMap, tol: 1e-5, "\(what): map")
        }
    }

    /// The kernel takes the UNet's and CLIP's head sizes, not the VAE's 512, and only where the settings ask for it.
    func testKernelChoice() {
        var settings = ComputeSettings()
        settings.fp32AttentionKernel = true
        for d in [40, 64, 80, 160, 256] {
            XCTAssertEqual(Attention.runsFP32Kernel(dk: d, dv: d, compute: settings), CPUFeatures.avx512, "head size \(d)")
        }
        XCTAssertFalse(Attention.runsFP32Kernel(dk: 512, dv: 512, compute: settings))
        XCTAssertFalse(Attention.runsFP32Kernel(dk: 40, dv: 512, compute: settings))
        settings.fp32AttentionKernel = false
        XCTAssertFalse(Attention.runsFP32Kernel(dk: 40, dv: 40, compute: settings))
    }

    /// softmax(Q K^T / sqrt(d)) V per head and the mean over heads of the probabilities, in Double.
    static func reference(q: Tensor, k: Tensor, v: Tensor, heads: Int, causal: Bool) -> (Tensor, Tensor) {
        let batch = q.dim(0), nq = q.dim(1), nk = k.dim(1), width = q.dim(2), d = width / heads
        let out = Tensor(shape: [batch, nq, width]), map = Tensor(shape: [batch, nq, nk])
        for b in 0..<batch {
            for i in 0..<nq {
                var mean = [Double](repeating: 0, count: nk)
                for h in 0..<heads {
                    let keys = causal ? min(i + 1, nk) : nk
                    let scores = (0..<keys).map { j in
                        (0..<d).reduce(0.0) { s, t in
                            s + Double(q[(b * nq + i) * width + h * d + t]) * Double(k[(b * nk + j) * width + h * d + t])
                        } / Double(d).squareRoot()
                    }
                    let top = scores.max() ?? 0
                    let powers = scores.map { exp($0 - top) }
                    let sum = powers.reduce(0, +)
                    for j in 0..<keys { mean[j] += powers[j] / sum / Double(heads) }
                    for t in 0..<d {
                        let value = (0..<keys).reduce(0.0) { s, j in s + powers[j] / sum * Double(v[(b * nk + j) * width + h * d + t]) }
                        out[(b * nq + i) * width + h * d + t] = Float(value)
                    }
                }
                for j in 0..<nk { map[(b * nq + i) * nk + j] = Float(mean[j]) }
            }
        }
        return (out, map)
    }
}
