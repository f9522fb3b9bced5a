import DatoCore
@testable import DatoModels
import XCTest

/// The one BasicTransformerBlock forward: reductions that keep every token give the dense block's result on
/// every path (per-sub-layer rows, the stream from the start, the stream after self-attention), in fp32 and
/// bf16; a reduction that only picks rows is handed the stream, so the LayerNorm runs on the picked rows.
final class BlockTokensTests: XCTestCase {
    /// Keeps every row; records what `merge` was given.
    final class KeepAll: RowReduction, StreamReduction {
        let picksRows: Bool
        var merged: [Tensor] = []
        init(picksRows: Bool) { self.picksRows = picksRows }
        func merge(_ x: Tensor) -> Tensor { merged.append(x.copy()); return x.copy() }
        func unmerge(_ x: Tensor) -> Tensor { x.copy() }
        func keep(_ x: Tensor) -> Tensor { x.copy() }
        func restore(_ x: Tensor, from h: Tensor, before: Tensor) { x.data.update(from: h.data, count: h.count) }
    }

    func block(_ precision: Precision) throws -> (BasicTransformerBlock, Tensor, Tensor) {
        let rnd = RandomSource(seed: 11)
        let block = try BasicTransformerBlock(Parameters(rnd).scope("b", compute: ComputeSettings(precision: precision)),
                                              dim: 64, heads: 2, contextDim: 32)
        return (block, try rnd.load("x", shape: [2, 48, 64]), try rnd.load("c", shape: [2, 7, 32]))
    }

    func testEveryPathKeepingAllTokensIsTheDenseBlock() throws {
        for precision in [Precision.fp32, .bf16] {
            let (block, x, context) = try block(precision)
            let dense = x.copy()
            try block(dense, context: context)
            for picks in [true, false] {
                let r = KeepAll(picksRows: picks), y = x.copy()
                try block(y, context: context, tokens: BlockTokens(selfAttention: r, crossAttention: r, feedForward: r))
                assertClose(y, dense, tol: 1e-6, "\(precision) sub-layer rows, picksRows \(picks)")
            }
            let y = x.copy()
            try block(y, context: context, tokens: BlockTokens(stream: .kept(KeepAll(picksRows: true))))
            assertClose(y, dense, tol: 1e-6, "\(precision) stream kept from the start")
            var rowSums: [Float] = []
            let z = x.copy()
            try block(z, context: context, tokens: BlockTokens(stream: .keptAfterSelfAttention { map, _ in
                rowSums = (0..<(2 * 48)).map { r in (0..<48).reduce(0) { $0 + map.data[r * 48 + $1] } }
                return KeepAll(picksRows: true)
            }))
            assertClose(z, dense, tol: 1e-6, "\(precision) stream kept after self-attention")
            XCTAssertEqual(rowSums.count, 96)
            for s in rowSums { XCTAssertEqual(s, 1, accuracy: 1e-4, "head-mean probabilities of a query sum to 1") }
        }
    }

    /// A picking reduction gets the stream rows (normalised after the pick, in the sub-layer's format); a
    /// merging one gets the normalised rows (tomesd merges norm1's output).
    func testPickingReductionsGetTheStreamAndMergingOnesTheNormalisedRows() throws {
        let (block, x, context) = try block(.bf16)
        for picks in [true, false] {
            let r = KeepAll(picksRows: picks)
            try block(x.copy(), context: context, tokens: BlockTokens(selfAttention: r))
            let expected = picks ? x : block.norm1(x)
            XCTAssertEqual(r.merged.count, 1)
            assertClose(r.merged[0], expected, tol: 0, "merge input, picksRows \(picks)")
        }
    }
}
