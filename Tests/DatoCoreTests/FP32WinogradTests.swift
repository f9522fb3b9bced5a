@testable import DatoCore
import XCTest
import DatoTestSupport

/// The fp32 Winograd F(2x2, 3x3) convolution (`FP32Winograd`) against an fp64 direct convolution, and the choice
/// of kernel an fp32 `Conv2D` makes at its first call (`FP32KernelChoice`). Each output may differ from the
/// reference by a few fp32 rounding units of the magnitudes it sums (transforms of up to 4 inputs or 9 filter
/// taps, then sums over the input channels): the tolerance of output i is `unitsOfRounding` x 2^-24 x sum |x||w|
/// over its 3x3 x cin window. A wrong transform coefficient makes errors of the order of the outputs themselves.
final class FP32WinogradTests: XCTestCase {
    /// fp32 rounding units (2^-24) of sum |x||w| each output may be off by.
    static let unitsOfRounding = 16.0

    /// The kernel paths this CPU runs: the portable C path always, AVX-512 where the CPU has it.
    var paths: [(name: String, avx: Bool)] {
        CPUFeatures.avx512 ? [("portable", false), ("AVX-512", true)] : [("portable", false)]
    }

    /// Shapes (n, h, w, cin, cout): odd heights and widths (tiles that overhang the image), one pixel, channel
    /// counts not multiples of 16 or 32, batch 2, several blocks of tiles (more than 128) and several groups of
    /// output panels.
    static let shapes = [(2, 9, 7, 20, 24), (1, 1, 1, 16, 16), (2, 6, 6, 64, 40), (1, 5, 12, 130, 70),
                         (2, 3, 4, 8, 3), (2, 27, 21, 16, 16), (2, 8, 8, 96, 96)]

    func testMatchesDirectReference() throws {
        for (i, (n, h, w, cin, cout)) in Self.shapes.enumerated() {
            let seed = UInt64(i)
            let x = Reference.random([n, h, w, cin], seed: 170 + seed)
            let wt = Reference.random([cout, cin, 3, 3], seed: 180 + seed)
            let b = i == 1 ? nil : Reference.random([cout], seed: 190 + seed)
            let (expected, bound) = Self.reference(x, wt, b)
            for path in paths {
                let what = "\(path.name) [\(n), \(h), \(w), \(cin)] -> \(cout)"
                let conv = FP32Winograd(weight: wt, avx512: path.avx)
                XCTAssertEqual(conv.usesAVX512, path.avx, what)
                let y = Tensor(shape: expected.shape, zeroed: false)
                conv.run(x, bias: b, into: y, accumulate: false)
                assertWithin(y, expected, bound, what)
                // Accumulating adds the convolution to the contents.
                let acc = Reference.random(expected.shape, seed: 200 + seed), sum = acc.copy()
                Elementwise.addInPlace(sum, expected)
                conv.run(x, bias: b, into: acc, accumulate: true)
                assertWithin(acc, sum, bound, "\(what): accumulate")
            }
        }
    }

    /// An fp32 Conv2D that qualifies picks swift-dato's kernel when its first input is below 16x16 pixels and
    /// keeps it for larger inputs; one whose first input is larger keeps oneDNN, also for smaller inputs. Off in
    /// the settings (or with direct convolutions, bf16, stride 2, fewer than 16 channels) it never does.
    func testConv2DChoosesAtTheFirstCall() throws {
        var on = ComputeSettings(precision: .fp32)
        on.fp32Winograd = true
        var off = on
        off.fp32Winograd = false
        var direct = on
        direct.convolution = .direct
        XCTAssertEqual(on.runsFP32Winograd, CPUFeatures.avx512)
        XCTAssertFalse(off.runsFP32Winograd || direct.runsFP32Winograd)
        XCTAssertFalse(ComputeSettings(precision: .bf16).runsFP32Winograd)
        let w3 = Reference.random([40, 36, 3, 3], seed: 15), bias = Reference.random([40], seed: 16)
        XCTAssertNil(try Conv2D(weight: w3, bias: bias, padding: 1, compute: off).fp32Choice)
        XCTAssertNil(try Conv2D(weight: w3, bias: bias, padding: 1, compute: direct).fp32Choice)
        XCTAssertNil(try Conv2D(weight: w3, bias: bias, stride: 2, padding: 1, compute: on).fp32Choice)
        XCTAssertNil(try Conv2D(weight: Reference.random([40, 8, 3, 3], seed: 17), bias: nil, padding: 1,
                                compute: on).fp32Choice)
        guard CPUFeatures.avx512 else { throw XCTSkip("this CPU has no AVX-512: Conv2D keeps oneDNN") }
        let small = Reference.random([2, 7, 9, 36], seed: 18), large = Reference.random([1, 17, 16, 36], seed: 19)
        let smallFirst = try Conv2D(weight: w3, bias: bias, padding: 1, compute: on)
        XCTAssertNil(smallFirst.implementation, "no kernel before the first call")
        for x in [small, large, small] {
            let (expected, bound) = Self.reference(x, w3, bias)
            assertWithin(try smallFirst(x), expected, bound, "first call \(small.shape), now \(x.shape)")
            XCTAssertEqual(smallFirst.implementation, "dato:winograd_fp32")
        }
        let largeFirst = try Conv2D(weight: w3, bias: bias, padding: 1, compute: on)
        for x in [large, small] {
            let (expected, bound) = Self.reference(x, w3, bias)
            assertWithin(try largeFirst(x), expected, bound, "first call \(large.shape), now \(x.shape)")
            XCTAssertNotEqual(largeFirst.implementation, "dato:winograd_fp32")
        }
        // The fused residual add.
        let (expected, bound) = Self.reference(small, w3, bias)
        let acc = Reference.random(expected.shape, seed: 20), sum = acc.copy()
        Elementwise.addInPlace(sum, expected)
        try smallFirst.accumulate(small, into: acc)
        assertWithin(acc, sum, bound, "accumulate")
    }

    /// The fp64 direct convolution and, for each output, the tolerance `unitsOfRounding` x 2^-24 x (sum |x||w| over
    /// its window + |b|) + 1e-7.
    static func reference(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> (Tensor, [Double]) {
        ConvolutionReference.direct3x3(x, w, b, relative: unitsOfRounding * 0x1p-24, absolute: 1e-7)
    }
}
