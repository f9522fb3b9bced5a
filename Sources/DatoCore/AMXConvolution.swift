import CDatoAMX
import Foundation

/// A bf16 3x3 (stride 1, padding 1) or 1x1 (stride 1) convolution, or a linear layer (a 1x1 convolution over
/// rows, `runRows`), run by swift-dato's own AMX kernel (`dato_amx_conv.c`) instead of oneDNN's: the tile
/// products read a zero-padded bf16 copy of the input directly (no im2col), blocked as 32 positions by 32 output
/// channels, which keeps the tiles full at the small images of SD's inner levels where oneDNN's kernel runs at
/// 350-500 GFLOP/s. Weights are packed once, in bf16.
final class AMXConvolution: @unchecked Sendable {
    /// The kernel side, 3 or 1.
    let kernel: Int
    let inChannels: Int
    let outChannels: Int
    private let packed: UnsafeMutablePointer<UInt16>

    /// A 3x3 convolution with stride 1 and padding 1, or a 1x1 one with stride 1 and no padding, whose channel
    /// counts are multiples of 32.
    static func qualifies(weight: Tensor, stride: Int, padding: (Int, Int, Int, Int)) -> Bool {
        guard weight.shape.count == 4, stride == 1, weight.dim(0) % 32 == 0, weight.dim(1) % 32 == 0 else { return false }
        return (weight.dim(2) == 3 && weight.dim(3) == 3 && padding == (1, 1, 1, 1))
            || (weight.dim(2) == 1 && weight.dim(3) == 1 && padding == (0, 0, 0, 0))
    }

    /// Packs `weight` ([out, in, k, k], or [out, in] for a linear layer; fp32) as bf16 tiles.
    init(weight: Tensor) {
        kernel = weight.shape.count == 4 ? weight.dim(2) : 1
        outChannels = weight.dim(0); inChannels = weight.dim(1)
        packed = .allocate(capacity: dato_amx_conv_weights_size(kernel, outChannels, inChannels))
        let (k, cout, cin, src, dst) = (kernel, outChannels, inChannels, weight.data, packed)
        Parallel.chunks(cout / 16) { blocks in
            dato_amx_conv_pack_weights(src, k, cout, cin, blocks.lowerBound, blocks.upperBound, dst)
        }
    }

    deinit { packed.deallocate() }

    /// Convolves `x` ([N, H, W, in], fp32 or bf16) into `out` ([N, H, W, out]), adding `bias` when given; with
    /// `accumulate`, adds the result to `out` instead of overwriting it.
    func run(_ x: any LayerInput, bias: Tensor?, into out: Tensor, accumulate: Bool) {
        run(x, images: x.dim(0), height: x.dim(1), width: x.dim(2), bias: bias, into: UnsafeMutableRawPointer(out.data),
                accumulate: accumulate, bf16Output: false)
    }

    /// Runs a 1x1 kernel as a linear layer over the rows of `x` ([..., in], fp32 or bf16) into `rows` x out
    /// values at `out`: floats (added to the contents with `accumulate`) or, with `bf16Output`, bf16 values.
    func runRows(_ x: any LayerInput, bias: Tensor?, into out: UnsafeMutableRawPointer, accumulate: Bool,
                 bf16Output: Bool) {
        precondition(kernel == 1, "rows need a 1x1 kernel")
        run(x, images: 1, height: x.count / inChannels, width: 1, bias: bias, into: out, accumulate: accumulate,
                bf16Output: bf16Output)
    }

    private func run(_ x: any LayerInput, images n: Int, height h: Int, width w: Int, bias: Tensor?,
                     into out: UnsafeMutableRawPointer, accumulate: Bool, bf16Output: Bool) {
        let (k, cin, cout) = (kernel, inChannels, outChannels)
        let (source, isBF16) = x.storage
        // A 1x1 kernel reads a bf16 input in place when its tiles of 16 positions end within each image.
        var padded: BF16Tensor?
        let input: UnsafePointer<UInt16>
        if k == 1 && isBF16 && (h * w) % 16 == 0 {
            input = source.assumingMemoryBound(to: UInt16.self)
        } else {
            let copy = BF16Tensor(shape: [dato_amx_conv_input_size(k, n, h, w, cin)])
            let dst = copy.data
            Parallel.chunks(n * (h + k - 1), minimumPerThread: 4) { rows in
                dato_amx_conv_pad(source, isBF16 ? 1 : 0, k, n, h, w, cin, rows.lowerBound, rows.upperBound, dst)
            }
            padded = copy
            input = UnsafePointer(dst)
        }
        let weights = packed, biasData = bias.map { UnsafePointer($0.data) }
        Parallel.items(dato_amx_conv_items(k, n, h, w, cin, cout)) { item, _ in
            dato_amx_conv_run(input, k, n, h, w, cin, weights, cout, biasData, out, accumulate ? 1 : 0,
                              bf16Output ? 1 : 0, item)
        }
        withExtendedLifetime((x, padded)) {}
    }
}
