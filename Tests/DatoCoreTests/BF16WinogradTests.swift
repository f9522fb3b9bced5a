@testable import DatoCore
import XCTest
import DatoTestSupport

/// The bf16 Winograd F(2x2, 3x3) convolution (`BF16Winograd`) against an fp64 direct convolution of the
/// bf16-rounded operands. Winograd rounds the transformed filters and input patches to bf16 as well, so each output
/// may differ from the reference by a few bf16 rounding units of the magnitudes it sums: the tolerance of output i
/// is `unitsOfRounding` x 2^-9 x sum |x||w| over its 3x3 x cin window (fp64). A wrong transform coefficient makes
/// errors of the order of the outputs themselves.
final class BF16WinogradTests: XCTestCase {
    /// Rounding units (2^-9, bf16's unit roundoff) of sum |x||w| each output may be off by: the filter and patch
    /// transforms round once each, and their values are sums of up to 4 inputs or 9 filter taps.
    static let unitsOfRounding = 4.0

    /// The kernel paths this CPU runs: the portable C path always, vdpbf16ps where the CPU has it.
    var paths: [(name: String, avx: Bool)] {
        CPUFeatures.avx512bf16 ? [("portable", false), ("AVX512-BF16", true)] : [("portable", false)]
    }

    /// Shapes (n, h, w, cin, cout): odd heights and widths (tiles that overhang the image), one pixel, channel
    /// counts not multiples of 16 or 32, batch 2, several blocks of tiles (more than 128 tiles) and several
    /// groups of output panels.
    static let shapes = [(2, 9, 7, 20, 24), (1, 1, 1, 32, 32), (2, 6, 6, 64, 40), (1, 5, 12, 130, 70),
                         (2, 3, 4, 8, 3), (2, 27, 21, 16, 16)]

    func testMatchesDirectReference() throws {
        for (i, (n, h, w, cin, cout)) in Self.shapes.enumerated() {
            let seed = UInt64(i)
            let x = Reference.random([n, h, w, cin], seed: 70 + seed), wt = Reference.random([cout, cin, 3, 3], seed: 80 + seed)
            let b = i == 1 ? nil : Reference.random([cout], seed: 90 + seed)
            let (expected, bound) = Self.reference(BF16Tests.roundedToBF16(x), BF16Tests.roundedToBF16(wt), b)
            for path in paths {
                let what = "\(path.name) [\(n), \(h), \(w), \(cin)] -> \(cout)"
                let conv = BF16Winograd(weight: wt, avx512bf16: path.avx)
                XCTAssertEqual(conv.usesAVX512BF16, path.avx, what)
                let y = Tensor(shape: expected.shape, zeroed: false)
                conv.run(x, bias: b, into: y, accumulate: false)
                assertWithin(y, expected, bound, what)
                // An fp32 input is rounded to bf16 first: the same result as its bf16 copy.
                let fromBF16 = Tensor(shape: expected.shape, zeroed: false)
                conv.run(BF16Tensor(rounding: x), bias: b, into: fromBF16, accumulate: false)
                XCTAssertEqual(zip(fromBF16.array, y.array).filter { $0 != $1 }.count, 0, "\(what): bf16 input")
                // Accumulating adds the convolution to fp32 contents.
                let acc = Reference.random(expected.shape, seed: 100 + seed), sum = acc.copy()
                Elementwise.addInPlace(sum, expected)
                conv.run(x, bias: b, into: acc, accumulate: true)
                assertWithin(acc, sum, bound, "\(what): accumulate")
            }
        }
    }

    /// The settings route bf16 3x3 convolutions (stride 1, padding 1, at least 32 input and output channels) to
    /// the Winograd kernel where it runs, and keep the direct kernels when it is off, for other kernels, strides
    /// and fewer channels, and for fp32.
    func testConv2DChoosesWinograd() throws {
        var on = ComputeSettings(precision: .bf16)
        on.amxMatrixKernels = false
        on.bf16Winograd = true
        var off = on
        off.bf16Winograd = false
        XCTAssertEqual(on.runsBF16Winograd, CPUFeatures.avx512bf16)
        XCTAssertFalse(off.runsBF16Winograd)
        XCTAssertFalse(ComputeSettings(precision: .fp32).runsBF16Winograd)
        let w3 = Reference.random([40, 36, 3, 3], seed: 5), w1 = Reference.random([40, 36, 1, 1], seed: 6)
        let x = Reference.random([2, 9, 7, 36], seed: 7)
        let winograd = try Conv2D(weight: w3, bias: nil, padding: 1, compute: on)
        XCTAssertEqual(winograd.winograd != nil, CPUFeatures.avx512bf16)
        XCTAssertNil(try Conv2D(weight: w3, bias: nil, padding: 1, compute: off).winograd)
        XCTAssertNil(try Conv2D(weight: w3, bias: nil, stride: 2, padding: 1, compute: on).winograd)
        XCTAssertNil(try Conv2D(weight: w1, bias: nil, padding: 0, compute: on).winograd)
        for (cout, cin) in [(320, 4), (4, 320), (31, 64), (64, 31)] {
            let narrow = Reference.random([cout, cin, 3, 3], seed: 8)
            XCTAssertNil(try Conv2D(weight: narrow, bias: nil, padding: 1, compute: on).winograd, "\(cin)->\(cout)")
        }
        let (wide, narrowest) = (Reference.random([32, 32, 3, 3], seed: 9), BF16Winograd.minimumChannels)
        XCTAssertEqual(try Conv2D(weight: wide, bias: nil, padding: 1, compute: on).winograd != nil,
                       CPUFeatures.avx512bf16, "\(narrowest)->\(narrowest)")
        guard CPUFeatures.avx512bf16 else { throw XCTSkip("this CPU has no AVX512-BF16: Conv2D keeps oneDNN") }
        XCTAssertEqual(winograd.implementation, "dato:winograd_bf16")
        let (expected, bound) = Self.reference(BF16Tests.roundedToBF16(x), BF16Tests.roundedToBF16(w3), nil)
        assertWithin(try winograd(x), expected, bound, "Conv2D")
    }

    /// The fp64 direct convolution and, for each output, the tolerance `unitsOfRounding` x 2^-9 x (sum |x||w| over
    /// its window + |b|) + 1e-6.
    static func reference(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> (Tensor, [Double]) {
        ConvolutionReference.direct3x3(x, w, b, relative: unitsOfRounding * 0x1p-9, absolute: 1e-6)
    }
}
