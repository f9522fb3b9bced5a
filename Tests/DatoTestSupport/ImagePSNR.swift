import Foundation

/// PSNR in dB of 8-bit pixels against a reference image in [0, 1] (diffusers' output before its rounding to
/// bytes); infinity when every pixel matches.
public func imagePSNR(pixels: [UInt8], reference: (Int) -> Float, count: Int) -> Double {
    var mse = 0.0
    for i in 0..<count {
        let a = Double(pixels[i]), b = (Double(reference(i)) * 255).rounded()
        mse += (a - b) * (a - b)
    }
    mse /= Double(max(count, 1))
    return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
}
