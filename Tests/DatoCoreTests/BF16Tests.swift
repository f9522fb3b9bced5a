@testable import DatoCore
import XCTest
import DatoTestSupport

/// bf16 layers against fp32 references computed on bf16-rounded inputs and weights: the only differences
/// left are the order of the fp32 accumulation, so the tolerance is the fp32 one, and a layer that skipped
/// the rounding (or rounded differently) fails.
final class BF16Tests: XCTestCase {
    /// This CPU's defaults in bf16 (AMX kernels where it has them).
    let bf16 = ComputeSettings(precision: .bf16)

    /// This CPU's bf16 attention kernels, each with settings that select it: oneDNN's products always, swift-dato's
    /// AVX512-BF16 kernel and its AMX kernel where the CPU has them.
    var attentionKernels: [(name: String, settings: ComputeSettings)] {
        var kernels: [(String, ComputeSettings)] = []
        var s = bf16
        (s.amxAttention, s.bf16DotAttention) = (false, false)
        kernels.append(("oneDNN", s))
        if CPUFeatures.avx512bf16 {
            s.bf16DotAttention = true
            kernels.append(("AVX512-BF16", s))
        }
        if CPUFeatures.amx {
            s.amxAttention = true
            kernels.append(("AMX", s))
        }
        return kernels
    }

    /// The settings choose the bf16 attention kernel: AMX where the CPU has it, else AVX512-BF16 dot products, else
    /// oneDNN's products; only swift-dato's own kernels exchange bf16 with bf16 layers.
    func testAttentionKernelChoice() {
        let expected: Attention.PackedKernel? = CPUFeatures.amx ? .amx : CPUFeatures.avx512bf16 ? .avx512bf16 : nil
        XCTAssertEqual(bf16.packedAttention, expected)
        XCTAssertEqual(Attention.exchangesBF16(bf16), expected != nil)
        XCTAssertNil(ComputeSettings().packedAttention, "fp32")
        for (name, settings) in attentionKernels {
            XCTAssertEqual(settings.packedAttention, name == "AMX" ? .amx : name == "AVX512-BF16" ? .avx512bf16 : nil, name)
        }
    }

    /// fp32 -> bf16 -> fp32 with round-to-nearest-even (finite values).
    static func roundedToBF16(_ t: Tensor) -> Tensor {
        Tensor(shape: t.shape, values: t.array.map { v in
            let bits = v.bitPattern
            let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
            return Float(bitPattern: rounded)
        })
    }

    /// 2600 input channels take the split into three channel groups (`Conv2D.bf16MaxInputChannels`). The direct
    /// algorithm (the Winograd kernel rounds transformed values too: `BF16WinogradTests`).
    func testConvolutionRoundsInputAndWeights() throws {
        var direct = bf16
        direct.bf16Winograd = false
        for channels in [16, 2600] {
            let what = "bf16 conv, \(channels) input channels"
            let x = Reference.random([2, 9, 7, channels], seed: 1), w = Reference.random([24, channels, 3, 3], seed: 2)
            let b = Reference.random([24], seed: 3)
            let conv = try Conv2D(weight: w, bias: b, padding: 1, compute: direct)
            XCTAssertEqual(conv.precision, .bf16)
            XCTAssertEqual(conv.parts.count, channels > Conv2D.bf16MaxInputChannels ? 3 : 0, what)
            let y = try conv(x)
            let expected = Reference.conv(Self.roundedToBF16(x), Self.roundedToBF16(w), b, stride: 1, pad: (1, 1, 1, 1))
            assertClose(y, expected, tol: 2e-5, what)
            let plain = Reference.conv(x, w, b, stride: 1, pad: (1, 1, 1, 1))
            XCTAssertGreaterThan(maxDifference(y, plain), 1e-4, "\(what): the result must show bf16 rounding")
            // Accumulating adds the bf16 convolution to fp32 contents.
            let acc = Reference.random(expected.shape, seed: 4), sum = acc.copy()
            Elementwise.addInPlace(sum, expected)
            try conv.accumulate(x, into: acc)
            assertClose(acc, sum, tol: 2e-5, "\(what): accumulate")
        }
    }

    /// swift-dato's AMX convolution kernel (`AMXConvolution`) against the fp32 reference on bf16-rounded operands:
    /// 3x3 images whose tiles straddle rows and images, odd tile counts, two work items along the rows (1280 input
    /// channels, 10 pairs of tiles), two channel groups (2560), 1x1 convolutions; bias or none, accumulation into
    /// fp32 contents, fp32 and bf16 inputs (the same result).
    func testAMXConvolution() throws {
        guard CPUFeatures.amx else { throw XCTSkip("this CPU has no AMX") }
        let shapes = [(3, 2, 9, 7, 64, 96), (3, 1, 1, 1, 32, 32), (3, 3, 4, 13, 96, 64), (3, 2, 12, 11, 1280, 32),
                      (3, 1, 3, 4, 2560, 32), (1, 2, 5, 7, 64, 32), (1, 1, 6, 6, 1280, 64)]
        for (i, (k, n, h, w, cin, cout)) in shapes.enumerated() {
            let seed = UInt64(i)
            let what = "AMX conv \(k)x\(k) [\(n), \(h), \(w), \(cin)] -> \(cout)"
            let x = Reference.random([n, h, w, cin], seed: 30 + seed), wt = Reference.random([cout, cin, k, k], seed: 40 + seed)
            let b = i == 1 || i == 5 ? nil : Reference.random([cout], seed: 50 + seed)
            let conv = try Conv2D(weight: wt, bias: b, padding: k / 2, compute: bf16)
            XCTAssertEqual(conv.implementation, "dato:amx_bf16", what)
            XCTAssertEqual(conv.parts.count, k == 3 && cin > Conv2D.bf16MaxInputChannels ? 2 : 0, what)
            let y = try conv(x)
            let pad = k / 2
            let expected = Reference.conv(Self.roundedToBF16(x), Self.roundedToBF16(wt), b, stride: 1, pad: (pad, pad, pad, pad))
            assertClose(y, expected, tol: 4e-5, what)
            XCTAssertEqual(maxDifference(try conv(BF16Tensor(rounding: x)), y), 0, "\(what): bf16 input")
            let acc = Reference.random(expected.shape, seed: 60 + seed), sum = acc.copy()
            Elementwise.addInPlace(sum, expected)
            try conv.accumulate(x, into: acc)
            assertClose(acc, sum, tol: 4e-5, "\(what): accumulate")
        }
    }

    /// bf16 linear layers on the AMX kernel (`AMXConvolution` as a 1x1 convolution over the rows) against the fp32
    /// reference on bf16-rounded operands: row counts that do and do not fill tiles of 16 (a bf16 input is read in
    /// place only then), fp32 and bf16 inputs (the same result), bf16 results (the fp32 result rounded), and
    /// accumulation into some rows of a larger tensor (the others untouched).
    func testAMXLinear() throws {
        guard CPUFeatures.amx else { throw XCTSkip("this CPU has no AMX") }
        for (i, (rows, inF, outF)) in [(7, 64, 32), (48, 96, 64), (154, 768, 320)].enumerated() {
            let seed = UInt64(i), what = "AMX linear \(rows)x\(inF) -> \(outF)"
            let x = Reference.random([rows, inF], seed: 70 + seed), w = Reference.random([outF, inF], seed: 80 + seed)
            let b = Reference.random([outF], seed: 90 + seed)
            let lin = try Linear(weight: w, bias: b, compute: bf16)
            guard case .amx = lin.backend else { return XCTFail("\(what): not on the AMX kernel") }
            let y = try lin(x)
            let expected = Reference.linear(Self.roundedToBF16(x), Self.roundedToBF16(w), b)
            assertClose(y, expected, tol: 4e-5, what)
            XCTAssertEqual(maxDifference(try lin(BF16Tensor(rounding: x)), y), 0, "\(what): bf16 input")
            XCTAssertEqual(try lin.roundedToBF16(x).array, BF16Tensor(rounding: y).array, "\(what): bf16 result")
            let dst = Reference.random([rows + 5, outF], seed: 100 + seed), before = dst.copy()
            try lin.accumulate(x, into: dst, rows: 2..<(2 + rows))
            var worst: Float = 0
            for r in 0..<(rows + 5) {
                for c in 0..<outF {
                    let inside = (2..<(2 + rows)).contains(r)
                    let want = before[r * outF + c] + (inside ? y[(r - 2) * outF + c] : 0)
                    worst = max(worst, difference(dst[r * outF + c], want))
                }
            }
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(what): accumulate into rows")
        }
    }

    /// A bf16 layer given its input already in bf16 (`BF16Tensor`) computes exactly what it computes when it
    /// rounds the fp32 input itself, also for a convolution split into channel groups and when accumulating;
    /// an fp32 layer refuses a bf16 input.
    func testLayersReadBF16InputsInPlace() throws {
        for channels in [16, 2600] {
            let x = Reference.random([2, 5, 6, channels], seed: 11), w = Reference.random([8, channels, 3, 3], seed: 12)
            let conv = try Conv2D(weight: w, bias: nil, padding: 1, compute: bf16)
            let half = BF16Tensor(rounding: x)
            XCTAssertEqual(maxDifference(try conv(half), try conv(x)), 0, "conv, \(channels) channels")
            let a = Reference.random([2, 5, 6, 8], seed: 13), b = a.copy()
            try conv.accumulate(half, into: a)
            try conv.accumulate(x, into: b)
            XCTAssertEqual(maxDifference(a, b), 0, "conv accumulate, \(channels) channels")
        }
        let x = Reference.random([3, 7, 40], seed: 14), w = Reference.random([24, 40], seed: 15)
        let lin = try Linear(weight: w, bias: Reference.random([24], seed: 16), compute: bf16)
        XCTAssertEqual(maxDifference(try lin(BF16Tensor(rounding: x)), try lin(x)), 0, "linear")
        XCTAssertThrowsError(try Linear(weight: w, bias: nil)(BF16Tensor(rounding: x)), "fp32 linear, bf16 input")
    }

    /// A bf16 linear layer asked for a bf16 result gives its fp32 result rounded to bf16 (oneDNN rounds the
    /// same fp32 sums; one bf16 step of slack in case its blocking differs), and bf16 GEGLU on that result is
    /// fp32 GEGLU on its widened values, rounded.
    func testLinearWritesBF16Results() throws {
        let x = Reference.random([2, 9, 40], seed: 20), w = Reference.random([48, 40], seed: 21)
        let lin = try Linear(weight: w, bias: Reference.random([48], seed: 22), compute: bf16)
        let half = try lin.roundedToBF16(x)
        XCTAssertEqual(half.shape, [2, 9, 48])
        let full = try lin(x), rounded = Self.roundedToBF16(full), got = half.widened()
        var mismatches = 0
        for i in 0..<full.count where got[i] != rounded[i] {
            mismatches += 1
            XCTAssertLessThanOrEqual(abs(got[i] - full[i]), abs(full[i]) / 128, "element \(i)")
        }
        XCTAssertLessThan(mismatches, full.count / 20, "bf16 results that differ from rounding the fp32 ones")
        XCTAssertEqual(maxDifference(Elementwise.gegluBF16(half).widened(), Self.roundedToBF16(Elementwise.geglu(got))), 0)
        XCTAssertThrowsError(try Linear(weight: w, bias: nil).roundedToBF16(x), "fp32 layer asked for bf16")
    }

    /// The producers that write bf16 for bf16 layers (group norm with and without SiLU, layer norm, GEGLU on bf16
    /// values) give their fp32 result rounded to nearest even.
    func testProducersRoundTheirResultsToBF16() {
        let x = Reference.random([2, 6, 5, 64], seed: 17), g = Reference.random([64], seed: 18), b = Reference.random([64], seed: 19)
        for silu in [false, true] {
            let y = Normalization.groupNormBF16(x, groups: 8, gamma: g, beta: b, eps: 1e-5, silu: silu).widened()
            let expected = Self.roundedToBF16(Normalization.groupNorm(x, groups: 8, gamma: g, beta: b, eps: 1e-5, silu: silu))
            XCTAssertEqual(maxDifference(y, expected), 0, "group norm, silu \(silu)")
        }
        let ln = Normalization.layerNormBF16(x, gamma: g, beta: b, eps: 1e-5).widened()
        XCTAssertEqual(maxDifference(ln, Self.roundedToBF16(Normalization.layerNorm(x, gamma: g, beta: b, eps: 1e-5))), 0,
                       "layer norm")
        let xh = BF16Tensor(rounding: x)
        XCTAssertEqual(maxDifference(Elementwise.gegluBF16(xh).widened(), Self.roundedToBF16(Elementwise.geglu(xh.widened()))), 0,
                       "GEGLU of bf16 values")
        XCTAssertEqual(Elementwise.gegluBF16(xh).shape, [2, 6, 5, 32])
    }

    /// The attention within bf16 layers reads bf16 queries, keys and values and writes bf16 on swift-dato's own
    /// kernels (AMX tiles, AVX512-BF16 dot products): the fp32 attention of the same (widened) values, rounded to
    /// nearest even (on oneDNN's products it returns that fp32 result). fp32 inputs are taken too.
    func testAttentionForBF16LayersRoundsItsResult() throws {
        let q = BF16Tensor(rounding: Reference.random([2, 70, 80], seed: 23))
        let k = BF16Tensor(rounding: Reference.random([2, 45, 80], seed: 24))
        let v = BF16Tensor(rounding: Reference.random([2, 45, 80], seed: 25))
        for (name, settings) in attentionKernels {
            let full = try Attention.scaledDotProduct(q: q.widened(), k: k.widened(), v: v.widened(), heads: 2,
                                                      compute: settings)
            for (what, inputs) in [("bf16", [q, k, v] as [any LayerInput]), ("fp32", [q.widened(), k.widened(), v.widened()])] {
                let y = try Attention.scaledDotProductForBF16Layers(q: inputs[0], k: inputs[1], v: inputs[2], heads: 2,
                                                                    compute: settings)
                XCTAssertEqual(y.shape, full.shape)
                switch y {
                case let h as BF16Tensor:
                    XCTAssertTrue(Attention.exchangesBF16(settings), name)
                    XCTAssertEqual(maxDifference(h.widened(), Self.roundedToBF16(full)), 0, "\(name), \(what) inputs")
                case let t as Tensor:
                    XCTAssertFalse(Attention.exchangesBF16(settings), name)
                    XCTAssertEqual(maxDifference(t, full), 0, "\(name), \(what) inputs")
                default:
                    XCTFail("unexpected result type \(type(of: y))")
                }
            }
        }
    }

    func testLinearRoundsInputAndWeights() throws {
        let x = Reference.random([2, 13, 40], seed: 5), w = Reference.random([24, 40], seed: 6), b = Reference.random([24], seed: 7)
        let lin = try Linear(weight: w, bias: b, compute: bf16)
        let y = try lin(x)
        assertClose(y, Reference.linear(Self.roundedToBF16(x), Self.roundedToBF16(w), b), tol: 2e-5, "bf16 linear")
        XCTAssertGreaterThan(maxDifference(y, Reference.linear(x, w, b)), 1e-4, "the result must show bf16 rounding")
        XCTAssertEqual(try Linear(weight: w, bias: b).precision, .fp32, "fp32 by default")
    }

    /// bf16 attention against fp32 attention, on every bf16 kernel of this CPU (`attentionKernels`: AMX tiles,
    /// AVX512-BF16 dot products, oneDNN's products): inputs, scores' inputs and probabilities are rounded to 8-bit mantissas, so about 1%
    /// of the largest output is the expected error; the head-mean probability map is close too. The wider cases
    /// have head sizes (40, 80) that the AMX kernel pads, and key counts that are not multiples of its blocks
    /// (of 32 keys, and of 1024 keys for its online softmax); head sizes 8 and 40 take its paths that keep
    /// the queries in tiles. Head sizes 12 (24 / 2), 40 and 80 give the AVX512-BF16 kernel one, three and five
    /// blocks of 16 value columns (its tiles are 48 wide; 8, 24 and 40 end in a half block of 256-bit products),
    /// 160 four tiles (the last one block wide); 7 leaves the last pair of head dimensions half empty.
    func testAttentionInBF16() throws {
        let wide: [(nq: Int, nk: Int, heads: Int, causal: Bool, chunk: Int, width: Int)] = [
            (70, 45, 2, false, 64, 160), (33, 77, 1, false, 64, 40), (77, 77, 2, true, 64, 80),
            (40, 600, 1, false, 64, 40), (300, 300, 2, true, 64, 80),
            (40, 2100, 1, false, 64, 40), (1056, 1056, 1, true, 64, 8),   // several 1024-key blocks
            (50, 70, 3, false, 64, 21)]   // odd head size 7
        let cases = Reference.attentionCases.map { ($0.nq, $0.nk, $0.heads, $0.causal, $0.chunk, 24) } + wide
        for (name, settings) in attentionKernels {
            for (i, c) in cases.enumerated() {
                let what = "bf16 attention (\(name)) case \(i)"
                let q = Reference.random([2, c.0, c.5], seed: UInt64(20 + i), scale: 2)
                let k = Reference.random([2, c.1, c.5], seed: UInt64(30 + i), scale: 2)
                let v = Reference.random([2, c.1, c.5], seed: UInt64(40 + i))
                let map = Tensor(shape: [2, c.0, c.1]), map32 = Tensor(shape: [2, c.0, c.1])
                let y = try Attention.scaledDotProduct(q: q, k: k, v: v, heads: c.2, causal: c.3, chunk: c.4,
                                                       probabilityMean: map, compute: settings)
                let y32 = try Attention.scaledDotProduct(q: q, k: k, v: v, heads: c.2, causal: c.3, chunk: c.4,
                                                         probabilityMean: map32)
                let reference = Reference.attention(q: q, k: k, v: v, heads: c.2, causal: c.3)
                assertClose(y, reference, tol: 2e-2, what)
                // Without a map the AMX kernel takes its online-softmax path over key blocks.
                let plain = try Attention.scaledDotProduct(q: q, k: k, v: v, heads: c.2, causal: c.3, chunk: c.4,
                                                           compute: settings)
                assertClose(plain, reference, tol: 2e-2, "\(what) without a map")
                XCTAssertGreaterThan(maxDifference(y, y32), 0, "\(what) must differ from fp32")
                assertClose(map, map32, tol: 2e-2, "\(what): map")
            }
        }
    }

    /// Keys whose scores change at each block of the packed kernels' online softmax (AMX, AVX512-BF16), by up to about 146 (log2
    /// units), more than a float's exponent range: such a block must rescale the running sum and output
    /// (without it the later probabilities overflow). The inputs are exact in bf16 (queries all one, keys an offset plus
    /// multiples of 1/2), so only a common factor on the scores and the probabilities' rounding differ from
    /// the fp64 reference.
    func testAttentionInBF16RescalesAcrossKeyBlocks() throws {
        let nq = 40, nk = 3100, width = 40
        let q = Tensor(shape: [2, nq, width], values: [Float](repeating: 1, count: 2 * nq * width))
        let v = Reference.random([2, nk, width], seed: 8)
        let noise = Reference.random([2, nk, width], seed: 9)   // uniform in [-1, 1)
        // Steps of 16 raise the scores by ~146 log2 units a block (far above the running maximum: the block is
        // redone after a rescale); steps of 2 by ~18 (the second block's powers exceed 1 but stay below the
        // kernel's 2^32 limit, the third's do not); steps of -2 lower them.
        for step: Float in [16, 2, -2] {
            let k = Tensor(shape: [2, nk, width])
            for b in 0..<2 {
                for j in 0..<nk {
                    let offset = step * Float(j / 1024)
                    for c in 0..<width {
                        let i = (b * nk + j) * width + c
                        k.data[i] = offset + (noise.data[i] * 1.5).rounded() / 2
                    }
                }
            }
            let reference = Reference.attention(q: q, k: k, v: v, heads: 1, causal: false)
            for (name, settings) in attentionKernels where settings.packedAttention != nil {
                let y = try Attention.scaledDotProduct(q: q, k: k, v: v, heads: 1, compute: settings)
                assertClose(y, reference, tol: 2e-2, "bf16 attention (\(name)) over keys changing by \(step) a block")
            }
        }
    }

    func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.array, b.array).reduce(0) { max($0, difference($1.0, $1.1)) }
    }
}
