@testable import DatoCore
import XCTest

/// bf16 layers against fp32 references computed on bf16-rounded inputs and weights: the only differences
/// left are the order of the fp32 accumulation, so the tolerance is the fp32 one, and a layer that skipped
/// the rounding (or rounded differently) fails.
final class BF16Tests: XCTestCase {
    /// fp32 -> bf16 -> fp32 with round-to-nearest-even (finite values).
    static func roundedToBF16(_ t: Tensor) -> Tensor {
        Tensor(shape: t.shape, values: t.array.map { v in
            let bits = v.bitPattern
            let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
            return Float(bitPattern: rounded)
        })
    }

    func testConvolutionRoundsInputAndWeights() throws {
        let x = Reference.random([2, 9, 7, 16], seed: 1), w = Reference.random([24, 16, 3, 3], seed: 2)
        let b = Reference.random([24], seed: 3)
        let conv = try Precision.$forNewLayers.withValue(.bf16) { try Conv2D(weight: w, bias: b, padding: 1) }
        XCTAssertEqual(conv.precision, .bf16)
        let y = try conv(x)
        let expected = Reference.conv(Self.roundedToBF16(x), Self.roundedToBF16(w), b, stride: 1, pad: (1, 1, 1, 1))
        assertClose(y, expected, tol: 2e-5, "bf16 conv")
        let plain = Reference.conv(x, w, b, stride: 1, pad: (1, 1, 1, 1))
        XCTAssertGreaterThan(maxDifference(y, plain), 1e-4, "the result must show bf16 rounding")
        // Accumulating adds the bf16 convolution to fp32 contents.
        let acc = Reference.random(expected.shape, seed: 4), sum = acc.copy()
        Elementwise.addInPlace(sum, expected)
        try conv.accumulate(x, into: acc)
        assertClose(acc, sum, tol: 2e-5, "bf16 conv accumulate")
    }

    func testLinearRoundsInputAndWeights() throws {
        let x = Reference.random([2, 13, 40], seed: 5), w = Reference.random([24, 40], seed: 6), b = Reference.random([24], seed: 7)
        let lin = try Precision.$forNewLayers.withValue(.bf16) { try Linear(weight: w, bias: b) }
        let y = try lin(x)
        assertClose(y, Reference.linear(Self.roundedToBF16(x), Self.roundedToBF16(w), b), tol: 2e-5, "bf16 linear")
        XCTAssertGreaterThan(maxDifference(y, Reference.linear(x, w, b)), 1e-4, "the result must show bf16 rounding")
        XCTAssertEqual(try Linear(weight: w, bias: b).precision, .fp32, "fp32 outside a bf16 scope")
    }

    /// bf16 attention against fp32 attention: inputs, scores' inputs and probabilities are rounded to 8-bit
    /// mantissas, so about 1% of the largest output is the expected error; the head-mean probability map
    /// (accumulated from the fp32 softmax) is close too.
    func testAttentionInBF16() throws {
        for (i, c) in Reference.attentionCases.enumerated() {
            let (q, k, v) = Reference.attentionInputs(c, seed: i)
            let map = Tensor(shape: [2, c.nq, c.nk]), map32 = Tensor(shape: [2, c.nq, c.nk])
            let y = try Attention.scaledDotProduct(q: q, k: k, v: v, heads: c.heads, causal: c.causal, chunk: c.chunk,
                                                   probabilityMean: map, precision: .bf16)
            let y32 = try Attention.scaledDotProduct(q: q, k: k, v: v, heads: c.heads, causal: c.causal, chunk: c.chunk,
                                                     probabilityMean: map32)
            assertClose(y, Reference.attention(q: q, k: k, v: v, heads: c.heads, causal: c.causal), tol: 2e-2, "bf16 attention case \(i)")
            XCTAssertGreaterThan(maxDifference(y, y32), 0, "case \(i) must differ from fp32")
            assertClose(map, map32, tol: 2e-2, "bf16 attention map case \(i)")
        }
    }

    func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.array, b.array).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
}
