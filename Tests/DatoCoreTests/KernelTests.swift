import DatoCore
import Foundation
import XCTest

/// Every optimised op against the plain reference on random inputs.
final class KernelTests: XCTestCase {
    func testConvolutions() throws {
        let cases: [(h: Int, w: Int, ci: Int, co: Int, k: Int, stride: Int, pad: (Int, Int, Int, Int))] = [
            (7, 9, 5, 6, 3, 1, (1, 1, 1, 1)),   // 3x3, same padding, odd sizes
            (6, 5, 8, 3, 1, 1, (0, 0, 0, 0)),   // 1x1
            (9, 8, 4, 4, 3, 2, (1, 1, 1, 1)),   // stride 2 (UNet downsampler)
            (8, 6, 4, 5, 3, 2, (0, 0, 1, 1)),   // stride 2, bottom/right padding (VAE downsampler)
        ]
        for (i, c) in cases.enumerated() {
            let x = Reference.random([2, c.h, c.w, c.ci], seed: UInt64(i))
            let w = Reference.random([c.co, c.ci, c.k, c.k], seed: UInt64(100 + i))
            let b = Reference.random([c.co], seed: UInt64(200 + i))
            let conv = try Conv2D(weight: w, bias: b, stride: c.stride, padding: c.pad)
            let expected = Reference.conv(x, w, b, stride: c.stride, pad: c.pad)
            assertClose(try conv(x), expected, "conv case \(i)")
            // Accumulating into an existing tensor adds the convolution to it (fused residual).
            let acc = Reference.random(expected.shape, seed: UInt64(300 + i))
            let sum = acc.copy()
            Elementwise.addInPlace(sum, expected)
            try conv.accumulate(x, into: acc)
            assertClose(acc, sum, "conv accumulate case \(i)")
            // A second call with another shape builds another primitive and still agrees.
            let x2 = Reference.random([1, c.h + 2, c.w + 1, c.ci], seed: UInt64(400 + i))
            assertClose(try conv(x2), Reference.conv(x2, w, b, stride: c.stride, pad: c.pad), "conv case \(i), second shape")
        }
    }

    /// fp32 Winograd convolutions (from 256 pixels; oneDNN picks its 2x3 or 4x3 kernel by shape, with weight
    /// layouts that cannot be reordered back) agree with the double-precision reference at every shape, also
    /// when the same layer alternates with direct ones (small inputs), and accumulate.
    func testWinogradConvolution() throws {
        var settings = ComputeSettings()
        settings.convolution = .winograd
        let w = Reference.random([64, 64, 3, 3], seed: 7, scale: 0.1), b = Reference.random([64], seed: 8)
        let conv = try Conv2D(weight: w, bias: b, padding: 1, compute: settings)
        var kernels: Set<String> = []
        for (i, side) in [16, 10, 24, 7, 16].enumerated() {
            let x = Reference.random([2, side, side + 1, 64], seed: UInt64(500 + i))
            let expected = Reference.conv(x, w, b, stride: 1, pad: (1, 1, 1, 1))
            assertClose(try conv(x), expected, "winograd conv \(side)x\(side + 1)")
            kernels.insert(conv.implementation ?? "")
            let acc = Reference.random(expected.shape, seed: UInt64(600 + i)), sum = acc.copy()
            Elementwise.addInPlace(sum, expected)
            try conv.accumulate(x, into: acc)
            assertClose(acc, sum, "winograd accumulate \(side)")
        }
        XCTAssertTrue(kernels.contains { $0.contains("wino") }, "no Winograd kernel ran: \(kernels)")
        XCTAssertTrue(kernels.contains { !$0.contains("wino") }, "no direct kernel ran: \(kernels)")
        settings.convolution = .direct
        let direct = try Conv2D(weight: w, bias: b, padding: 1, compute: settings)
        _ = try direct(Reference.random([2, 16, 16, 64], seed: 9))
        XCTAssertFalse(direct.implementation?.contains("wino") ?? true, "direct layer used \(direct.implementation ?? "?")")
    }

    func testConvRejectsWrongChannels() throws {
        let conv = try Conv2D(weight: Reference.random([4, 3, 3, 3], seed: 1), bias: nil, padding: 1)
        XCTAssertThrowsError(try conv(Tensor(shape: [1, 4, 4, 5])))
    }

    func testLinear() throws {
        let x = Reference.random([2, 13, 24], seed: 1)
        let w = Reference.random([40, 24], seed: 2), b = Reference.random([40], seed: 3)
        let lin = try Linear(weight: w, bias: b)
        let expected = Reference.linear(x, w, b)
        assertClose(try lin(x), expected, "linear")
        let noBias = try Linear(weight: w, bias: nil)
        assertClose(try noBias(x), Reference.linear(x, w, nil), "linear without bias")
        let acc = Reference.random(expected.shape, seed: 4), sum = acc.copy()
        Elementwise.addInPlace(sum, expected)
        try lin.accumulate(x, into: acc)
        assertClose(acc, sum, "linear accumulate")
        // A 1x1 conv weight [out, in, 1, 1] is the same layer.
        let as4d = try Linear(weight: w.copy().reshape([40, 24, 1, 1]), bias: b)
        assertClose(try as4d(x), expected, "linear from 1x1 conv weight")
    }

    func testGroupNorm() {
        let x = Reference.random([2, 5, 7, 32], seed: 5, scale: 3)
        // An offset mean checks that the variance is not computed by cancellation.
        for i in 0..<x.count { x[i] += 50 }
        let g = Reference.random([32], seed: 6), b = Reference.random([32], seed: 7)
        for silu in [false, true] {
            let y = Normalization.groupNorm(x, groups: 8, gamma: g, beta: b, eps: 1e-5, silu: silu)
            assertClose(y, Reference.groupNorm(x, groups: 8, gamma: g, beta: b, eps: 1e-5, silu: silu), tol: 2e-5, "group norm silu=\(silu)")
        }
        // The statistics are taken in one pass relative to each channel's first value: an outlying first row
        // (about 20 standard deviations away) over 256 rows must not cost accuracy.
        let wide = Reference.random([2, 16, 16, 32], seed: 11, scale: 3)
        for i in 0..<wide.count { wide[i] += i % (16 * 16 * 32) < 32 ? 90 : 50 }
        assertClose(Normalization.groupNorm(wide, groups: 8, gamma: g, beta: b, eps: 1e-5),
                    Reference.groupNorm(wide, groups: 8, gamma: g, beta: b, eps: 1e-5, silu: false), tol: 2e-5,
                    "group norm, outlying first row")
        // An addition per (batch, channel) folded into the statistics and the affine equals adding it first.
        let t = Reference.random([2, 32], seed: 12, scale: 20), sum = wide.copy()
        for i in 0..<sum.count { sum[i] += t[i / (16 * 16 * 32) * 32 + i % 32] }
        for silu in [false, true] {
            assertClose(Normalization.groupNorm(wide, adding: t, groups: 8, gamma: g, beta: b, eps: 1e-5, silu: silu),
                        Reference.groupNorm(sum, groups: 8, gamma: g, beta: b, eps: 1e-5, silu: silu), tol: 2e-5,
                        "group norm with an addition, silu=\(silu)")
            XCTAssertEqual(Normalization.groupNormBF16(wide, adding: t, groups: 8, gamma: g, beta: b, eps: 1e-5, silu: silu).array,
                           BF16Tensor(rounding: Normalization.groupNorm(wide, adding: t, groups: 8, gamma: g, beta: b,
                                                                        eps: 1e-5, silu: silu)).array)
        }
    }

    func testLayerNorm() {
        let x = Reference.random([3, 11, 40], seed: 8, scale: 2)
        let g = Reference.random([40], seed: 9), b = Reference.random([40], seed: 10)
        assertClose(Normalization.layerNorm(x, gamma: g, beta: b, eps: 1e-5),
                    Reference.layerNorm(x, gamma: g, beta: b, eps: 1e-5), tol: 2e-5, "layer norm")
    }

    func testActivations() {
        let x = Reference.random([4, 1000], seed: 11, scale: 12)
        let cases: [(String, (Tensor) -> Void, (Double) -> Double)] = [
            ("silu", Elementwise.silu, { $0 / (1 + exp(-$0)) }),
            ("gelu", Elementwise.gelu, Reference.gelu),
            ("quick gelu", Elementwise.quickGelu, { $0 / (1 + exp(-1.702 * $0)) }),
        ]
        for (name, op, ref) in cases {
            let y = x.copy()
            op(y)
            let expected = Tensor(shape: x.shape, values: x.array.map { Float(ref(Double($0))) })
            assertClose(y, expected, tol: 1e-6, name)
        }
        let gg = Elementwise.geglu(x)
        let expected = Tensor(shape: [4, 500], values: (0..<2000).map { i in
            let r = i / 500, j = i % 500
            return Float(Double(x[r * 1000 + j]) * Reference.gelu(Double(x[r * 1000 + 500 + j])))
        })
        assertClose(gg, expected, tol: 1e-6, "geglu")
    }

    func testAttention() throws {
        // Self-attention with more queries than one chunk, cross-attention with few keys, causal; on the AVX-512
        // kernel and on GEMMs with the AVX-512 softmax (where the CPU has them) and with the portable one.
        var kernels: [(String, ComputeSettings)] = []
        for (name, kernel, softmax) in [("AVX-512 kernel", true, ComputeSettings.SoftmaxKernel.avx512),
                                        ("GEMMs, AVX-512 softmax", false, .avx512), ("GEMMs, portable softmax", false, .portable)]
        where CPUFeatures.avx512 || !kernel && softmax == .portable {
            var settings = ComputeSettings()
            (settings.fp32AttentionKernel, settings.softmax) = (kernel, softmax)
            kernels.append((name, settings))
        }
        for (name, settings) in kernels {
            for (i, c) in Reference.attentionCases.enumerated() {
                let (q, k, v) = Reference.attentionInputs(c, seed: i)
                let y = try Attention.scaledDotProduct(q: q, k: k, v: v, heads: c.heads, causal: c.causal, chunk: c.chunk,
                                                       compute: settings)
                assertClose(y, Reference.attention(q: q, k: k, v: v, heads: c.heads, causal: c.causal), tol: 1e-5,
                            "attention case \(i) (\(name))")
            }
        }
    }

    /// Every item runs exactly once, on a valid worker, however many threads there are.
    func testParallelItems() {
        let before = Parallel.threadCount
        defer { Parallel.setThreadCount(before) }
        for threads in [1, 2, 3] {
            Parallel.setThreadCount(threads)
            let count = 1000
            let runs = UnsafeMutablePointer<Int>.allocate(capacity: count), workers = UnsafeMutablePointer<Int>.allocate(capacity: count)
            runs.initialize(repeating: 0, count: count)
            workers.initialize(repeating: -1, count: count)
            defer { runs.deallocate(); workers.deallocate() }
            Parallel.items(count) { item, worker in
                runs[item] += 1   // each item is taken by one worker only
                workers[item] = worker
            }
            XCTAssertEqual((0..<count).filter { runs[$0] != 1 }.count, 0, "\(threads) threads: items not run exactly once")
            XCTAssertEqual((0..<count).filter { !(0..<threads).contains(workers[$0]) }.count, 0, "\(threads) threads: worker index")
        }
    }

    func testLayoutOps() {
        let x = Reference.random([2, 3, 5, 4], seed: 50)
        let up = TokenOps.upsampleNearest(x)
        XCTAssertEqual(up.shape, [2, 6, 10, 4])
        let odd = TokenOps.upsampleNearest(x, to: (5, 9))   // torch: src = floor(dst * in / out)
        for b in 0..<2 { for y in 0..<5 { for xo in 0..<9 { for c in 0..<4 {
            let sy = min(Int(Float(y) * (3.0 / 5.0)), 2), sx = min(Int(Float(xo) * (5.0 / 9.0)), 4)
            XCTAssertEqual(odd[((b * 5 + y) * 9 + xo) * 4 + c], x[((b * 3 + sy) * 5 + sx) * 4 + c])
            if y < 5, xo < 9 { XCTAssertEqual(up[((b * 6 + y) * 10 + xo) * 4 + c], x[((b * 3 + y / 2) * 5 + xo / 2) * 4 + c]) }
        } } } }
        let y = Reference.random([2, 3, 5, 3], seed: 51)
        let cat = TokenOps.concatChannels([x, y])
        XCTAssertEqual(cat.shape, [2, 3, 5, 7])
        for r in 0..<30 {
            for c in 0..<4 { XCTAssertEqual(cat[r * 7 + c], x[r * 4 + c]) }
            for c in 0..<3 { XCTAssertEqual(cat[r * 7 + 4 + c], y[r * 3 + c]) }
        }
        let tokens = Reference.random([2, 6, 3], seed: 52)
        let index = [[5, 0, 2], [1, 1, 4]]
        let g = TokenOps.gatherRows(tokens, index: index)
        for b in 0..<2 { for i in 0..<3 { for c in 0..<3 {
            XCTAssertEqual(g[(b * 3 + i) * 3 + c], tokens[(b * 6 + index[b][i]) * 3 + c])
        } } }
        let target = Tensor(shape: [2, 6, 3])
        TokenOps.scatterRows(g, into: target, index: [[5, 0, 2], [1, 3, 4]])
        XCTAssertEqual(target[(0 * 6 + 5) * 3 + 1], tokens[(0 * 6 + 5) * 3 + 1])
        XCTAssertEqual(target[(1 * 6 + 3) * 3 + 2], g[(1 * 3 + 1) * 3 + 2])
        XCTAssertEqual(target[(0 * 6 + 1) * 3], 0)   // untouched rows stay as they were
    }
}
