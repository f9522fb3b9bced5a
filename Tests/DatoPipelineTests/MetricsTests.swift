import DatoCore
import DatoEvaluation
import DatoImage
import DatoPipeline
import XCTest

/// Properties of the fidelity metrics and the labelled grid.
final class MetricsTests: XCTestCase {
    func image(_ w: Int, _ h: Int, noise: Int, seed: UInt64) -> [UInt8] {
        var g = TorchGenerator(seed: seed)
        let n = g.randn(w * h * 3)
        return (0..<(w * h * 3)).map { i in
            let base = Double((i / 3) % w * 255 / w)
            return UInt8(max(0, min(255, base + Double(noise) * Double(n[i]))))
        }
    }

    func testPSNRAndSSIM() {
        let a = image(32, 24, noise: 0, seed: 1)
        XCTAssertEqual(ImageMetrics.psnr(a, a), .infinity)
        XCTAssertEqual(ImageMetrics.ssim(a, a, width: 32, height: 24), 1, accuracy: 1e-12)
        let slight = image(32, 24, noise: 3, seed: 2), heavy = image(32, 24, noise: 40, seed: 2)
        XCTAssertGreaterThan(ImageMetrics.psnr(a, slight), ImageMetrics.psnr(a, heavy))
        XCTAssertGreaterThan(ImageMetrics.ssim(a, slight, width: 32, height: 24), ImageMetrics.ssim(a, heavy, width: 32, height: 24))
        XCTAssertLessThan(ImageMetrics.ssim(a, heavy, width: 32, height: 24), 0.9)
        // One grey level of difference everywhere: MSE 1, PSNR = 20 log10(255).
        XCTAssertEqual(ImageMetrics.psnr(a.map { $0 == 255 ? 254 : $0 + 1 }, a), 20 * log10(255.0), accuracy: 1e-9)
        let t = Tensor(shape: [4], values: [1, 2, 3, 4]), u = Tensor(shape: [4], values: [1, 2, 3, 5])
        XCTAssertEqual(ImageMetrics.relativeError(u, t), 1 / 30.0.squareRoot(), accuracy: 1e-9)
    }

    func testGridPlacesImagesAndLabels() {
        var grid = ImageGrid(rows: 2, columns: 3, cellWidth: 16, cellHeight: 8)
        let red = [UInt8](repeating: 0, count: 16 * 8 * 3).enumerated().map { $0.offset % 3 == 0 ? UInt8(255) : 0 }
        grid.place(red, row: 1, column: 2, label: "AB")
        XCTAssertEqual(grid.width, 48)
        let top = 1 * (8 + grid.labelHeight) + grid.labelHeight
        let o = (top * 48 + 2 * 16) * 3
        XCTAssertEqual(Array(grid.pixels[o..<(o + 3)]), [255, 0, 0])
        // "A" starts 1 px in; its top row is the middle pixel of 3.
        XCTAssertEqual(grid.pixels[((1 * (8 + grid.labelHeight) + 1) * 48 + 2 * 16 + 2) * 3], 0, "label ink")
        XCTAssertEqual(grid.pixels[((1 * (8 + grid.labelHeight) + 1) * 48 + 2 * 16 + 1) * 3], 255, "no ink beside the stroke")
    }
}
