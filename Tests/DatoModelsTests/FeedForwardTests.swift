import DatoCore
@testable import DatoModels
import XCTest

/// The bf16 feed-forward runs in pieces of rows when it adds to the residual stream; the pieces must give what
/// the whole product gives.
final class FeedForwardTests: XCTestCase {
    func testBF16PiecesMatchTheWholeFeedForward() throws {
        let rnd = RandomSource(seed: 7)
        let ff = try FeedForward(Parameters(rnd).scope("ff", compute: ComputeSettings(precision: .bf16)), dim: 32)
        let rows = 2 * FeedForward.rowsPerPiece + 150   // two whole pieces and a short one
        let x = BF16Tensor(rounding: try rnd.load("x", shape: [2, rows / 2, 32]))
        let residual = try rnd.load("r", shape: [2, rows / 2, 32]), expected = residual.copy()
        Elementwise.addInPlace(expected, try ff(x))
        try ff(x, addTo: residual)
        assertClose(residual, expected, tol: 1e-5, "bf16 feed-forward in pieces")
    }
}
