import DatoCore
import Foundation
import XCTest
import DatoTestSupport

/// Plain, obviously-correct reference implementations (double precision) for the kernel tests.
enum Reference {
    /// A deterministic pseudo-random tensor with values in [-scale, scale].
    static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        let t = Tensor(shape: shape, zeroed: false)
        for i in 0..<t.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            t[i] = scale * (Float(state >> 40) / Float(1 << 24) * 2 - 1)
        }
        return t
    }

    /// NHWC convolution with OIHW weights.
    static func conv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: Int, pad: (Int, Int, Int, Int)) -> Tensor {
        let n = x.dim(0), h = x.dim(1), wd = x.dim(2), ci = x.dim(3)
        let co = w.dim(0), kh = w.dim(2), kw = w.dim(3)
        let oh = (h + pad.0 + pad.2 - kh) / stride + 1, ow = (wd + pad.1 + pad.3 - kw) / stride + 1
        let out = Tensor(shape: [n, oh, ow, co])
        for b0 in 0..<n { for y in 0..<oh { for xo in 0..<ow { for o in 0..<co {
            var s = Double(b?[o] ?? 0)
            for ky in 0..<kh { for kx in 0..<kw {
                let iy = y * stride + ky - pad.0, ix = xo * stride + kx - pad.1
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                for c in 0..<ci {
                    s += Double(x[((b0 * h + iy) * wd + ix) * ci + c]) * Double(w[((o * ci + c) * kh + ky) * kw + kx])
                }
            } }
            out[((b0 * oh + y) * ow + xo) * co + o] = Float(s)
        } } } }
        return out
    }

    static func linear(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> Tensor {
        let k = w.dim(1), nOut = w.dim(0), m = x.count / k
        var shape = x.shape
        shape[shape.count - 1] = nOut
        let out = Tensor(shape: shape)
        for r in 0..<m { for o in 0..<nOut {
            var s = Double(b?[o] ?? 0)
            for i in 0..<k { s += Double(x[r * k + i]) * Double(w[o * k + i]) }
            out[r * nOut + o] = Float(s)
        } }
        return out
    }

    static func groupNorm(_ x: Tensor, groups: Int, gamma: Tensor, beta: Tensor, eps: Double, silu: Bool) -> Tensor {
        let b = x.dim(0), c = x.dim(-1), rows = x.count / (b * c), cg = c / groups
        let out = Tensor(shape: x.shape)
        for bi in 0..<b { for g in 0..<groups {
            var vals: [Double] = []
            for r in 0..<rows { for ch in g * cg..<(g + 1) * cg { vals.append(Double(x[(bi * rows + r) * c + ch])) } }
            let mean = vals.reduce(0, +) / Double(vals.count)
            let variance = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(vals.count)
            for r in 0..<rows { for ch in g * cg..<(g + 1) * cg {
                let i = (bi * rows + r) * c + ch
                var y = (Double(x[i]) - mean) / (variance + eps).squareRoot() * Double(gamma[ch]) + Double(beta[ch])
                if silu { y = y / (1 + exp(-y)) }
                out[i] = Float(y)
            } }
        } }
        return out
    }

    static func layerNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Double) -> Tensor {
        let c = x.dim(-1)
        let out = Tensor(shape: x.shape)
        for r in 0..<(x.count / c) {
            let vals = (0..<c).map { Double(x[r * c + $0]) }
            let mean = vals.reduce(0, +) / Double(c)
            let variance = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(c)
            for i in 0..<c { out[r * c + i] = Float((vals[i] - mean) / (variance + eps).squareRoot() * Double(gamma[i]) + Double(beta[i])) }
        }
        return out
    }

    static func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int, causal: Bool) -> Tensor {
        let b = q.dim(0), nq = q.dim(1), nk = k.dim(1), c = q.dim(2), cv = v.dim(2)
        let d = c / heads, dv = cv / heads
        let out = Tensor(shape: [b, nq, cv])
        for bi in 0..<b { for h in 0..<heads { for i in 0..<nq {
            var scores = [Double](repeating: -.infinity, count: nk)
            for j in 0..<nk where !causal || j <= i {
                var s = 0.0
                for t in 0..<d { s += Double(q[(bi * nq + i) * c + h * d + t]) * Double(k[(bi * nk + j) * c + h * d + t]) }
                scores[j] = s / Double(d).squareRoot()
            }
            let m = scores.max() ?? 0
            let e = scores.map { exp($0 - m) }
            let sum = e.reduce(0, +)
            for t in 0..<dv {
                var s = 0.0
                for j in 0..<nk { s += e[j] / sum * Double(v[(bi * nk + j) * cv + h * dv + t]) }
                out[(bi * nq + i) * cv + h * dv + t] = Float(s)
            }
        } } }
        return out
    }

    /// Attention shapes for kernel tests: more queries than one chunk, cross-attention with few keys, causal.
    static let attentionCases: [(nq: Int, nk: Int, heads: Int, causal: Bool, chunk: Int)] = [
        (300, 300, 3, false, 128), (37, 7, 2, false, 16), (77, 77, 4, true, 32), (5, 9, 1, false, 128),
    ]

    /// Seeded q, k, v ([2, N, 24]) for one of `attentionCases`.
    static func attentionInputs(_ c: (nq: Int, nk: Int, heads: Int, causal: Bool, chunk: Int), seed i: Int) -> (Tensor, Tensor, Tensor) {
        (random([2, c.nq, 24], seed: UInt64(20 + i), scale: 2), random([2, c.nk, 24], seed: UInt64(30 + i), scale: 2),
         random([2, c.nk, 24], seed: UInt64(40 + i)))
    }

    static func gelu(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }
}

/// Asserts max |a - b| <= tol x max(max |b|, 1e-6), reporting the figures.
func assertClose(_ a: Tensor, _ b: Tensor, tol: Float = 1e-5, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
    guard a.shape == b.shape else { return }
    var maxErr: Float = 0
    for i in 0..<a.count { maxErr = max(maxErr, difference(a[i], b[i])) }
    XCTAssertLessThanOrEqual(maxErr, tol * max(b.maxAbs, 1e-6), "\(what): max abs error \(maxErr), max |ref| \(b.maxAbs)",
                             file: file, line: line)
}
