@testable import DatoCore
import XCTest
import DatoTestSupport

/// The fp64 direct 3x3 convolution (stride 1, padding 1) the Winograd kernels' tests compare with, and a tolerance
/// for each output scaled by the magnitudes it sums.
enum ConvolutionReference {
    /// `x` [N, H, W, cin] convolved with `w` [cout, cin, 3, 3] plus `b`, and for each output the tolerance
    /// `relative` x (sum |x||w| over its 3x3 x cin window + |b|) + `absolute`.
    static func direct3x3(_ x: Tensor, _ w: Tensor, _ b: Tensor?, relative: Double,
                          absolute: Double) -> (Tensor, [Double]) {
        let (n, h, wd, cin, cout) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0))
        let out = Tensor(shape: [n, h, wd, cout])
        var bound = [Double](repeating: 0, count: out.count)
        for img in 0..<n { for y in 0..<h { for xo in 0..<wd { for o in 0..<cout {
            let bias = Double(b?[o] ?? 0)
            var (sum, magnitude) = (bias, abs(bias))
            for ky in 0..<3 { for kx in 0..<3 {
                let iy = y + ky - 1, ix = xo + kx - 1
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                for c in 0..<cin {
                    let p = Double(x[((img * h + iy) * wd + ix) * cin + c])
                        * Double(w[((o * cin + c) * 3 + ky) * 3 + kx])
                    sum += p
                    magnitude += abs(p)
                }
            } }
            let at = ((img * h + y) * wd + xo) * cout + o
            out[at] = Float(sum)
            bound[at] = relative * magnitude + absolute
        } } } }
        return (out, bound)
    }
}

extension XCTestCase {
    /// Fails when some |actual - expected| exceeds its bound (NaN fails), naming the worst element.
    func assertWithin(_ actual: Tensor, _ expected: Tensor, _ bound: [Double], _ what: String,
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, what, file: file, line: line)
        var worst = 0.0, at = 0
        for i in 0..<min(actual.count, expected.count) {
            let ratio = Double(difference(actual[i], expected[i])) / bound[i]
            if ratio > worst { worst = ratio; at = i }
        }
        XCTAssertLessThanOrEqual(worst, 1, "\(what): element \(at) off by \(worst) x its bound", file: file, line: line)
    }
}
