import DatoCore
import Foundation

/// Fidelity of an accelerated image to the unaccelerated one.
public enum ImageMetrics {
    /// PSNR in dB between two 8-bit images of equal size (infinity when identical).
    public static func psnr(_ a: [UInt8], _ b: [UInt8]) -> Double {
        precondition(a.count == b.count && !a.isEmpty)
        var mse = 0.0
        for i in 0..<a.count { let d = Double(a[i]) - Double(b[i]); mse += d * d }
        mse /= Double(a.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    /// SSIM (Wang et al. 2004) of two RGB 8-bit images: 11x11 Gaussian window (sigma 1.5), K1 = 0.01,
    /// K2 = 0.03, L = 255, computed per channel over windows inside the image, then averaged.
    public static func ssim(_ a: [UInt8], _ b: [UInt8], width: Int, height: Int, channels: Int = 3) -> Double {
        precondition(a.count == width * height * channels && b.count == a.count)
        let radius = min(5, (min(width, height) - 1) / 2)
        let size = 2 * radius + 1
        var kernel = (0..<size).map { i -> Double in let x = Double(i - radius); return exp(-x * x / (2 * 1.5 * 1.5)) }
        let ksum = kernel.reduce(0, +)
        kernel = kernel.map { $0 / ksum }
        let c1: Double = (0.01 * 255) * (0.01 * 255), c2: Double = (0.03 * 255) * (0.03 * 255)
        var total = 0.0, count = 0
        for ch in 0..<channels {
            func plane(_ img: [UInt8]) -> [Double] { (0..<(width * height)).map { Double(img[$0 * channels + ch]) } }
            let x = plane(a), y = plane(b)
            // Separable Gaussian filtering of x, y, x^2, y^2, xy over valid windows.
            func filter(_ f: [Double]) -> [Double] {
                let ow = width - size + 1, oh = height - size + 1
                var rows = [Double](repeating: 0, count: height * ow)
                for r in 0..<height { for c in 0..<ow {
                    var s = 0.0
                    for k in 0..<size { s += kernel[k] * f[r * width + c + k] }
                    rows[r * ow + c] = s
                } }
                var out = [Double](repeating: 0, count: oh * ow)
                for r in 0..<oh { for c in 0..<ow {
                    var s = 0.0
                    for k in 0..<size { s += kernel[k] * rows[(r + k) * ow + c] }
                    out[r * ow + c] = s
                } }
                return out
            }
            let mx = filter(x), my = filter(y)
            let sxx = filter(x.map { $0 * $0 }), syy = filter(y.map { $0 * $0 }), sxy = filter(zip(x, y).map { $0 * $1 })
            for i in 0..<mx.count {
                let vx = sxx[i] - mx[i] * mx[i], vy = syy[i] - my[i] * my[i], cxy = sxy[i] - mx[i] * my[i]
                total += ((2 * mx[i] * my[i] + c1) * (2 * cxy + c2)) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2))
                count += 1
            }
        }
        return total / Double(max(count, 1))
    }

    /// ||a - b|| / ||b|| over two tensors (latent-space relative error).
    public static func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
        precondition(a.count == b.count)
        var num = 0.0, den = 0.0
        for i in 0..<a.count {
            let d = Double(a[i]) - Double(b[i])
            num += d * d
            den += Double(b[i]) * Double(b[i])
        }
        return (num / max(den, 1e-30)).squareRoot()
    }
}
