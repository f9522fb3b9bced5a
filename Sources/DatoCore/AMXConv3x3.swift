import CDatoAMX
import Foundation

/// A bf16 3x3 convolution (stride 1, padding 1) run by swift-dato's own AMX kernel (`dato_amx_conv.c`)
/// instead of oneDNN's: the tile products read a zero-padded copy of the input directly (no im2col), and the
/// work is blocked as 32 positions by 32 output channels, which keeps the tiles full at the small images of
/// SD's inner levels where oneDNN's kernel runs at 350-500 GFLOP/s. Weights are packed once, in bf16.
final class AMXConv3x3: @unchecked Sendable {
    let inChannels: Int
    let outChannels: Int
    private let packed: UnsafeMutablePointer<UInt16>

    /// Whether new bf16 convolutions that qualify (`qualifies`) use this kernel: true where the CPU has AMX,
    /// unless the environment variable `DATO_AMX_CONV` is "0" (then oneDNN runs them, as before).
    nonisolated(unsafe) static var enabled = Attention.amxAvailable
        && ProcessInfo.processInfo.environment["DATO_AMX_CONV"] != "0"

    /// A 3x3, stride-1, padding-1 convolution whose channel counts are multiples of 32.
    static func qualifies(weight: Tensor, stride: Int, padding: (Int, Int, Int, Int)) -> Bool {
        weight.shape.count == 4 && weight.dim(2) == 3 && weight.dim(3) == 3 && stride == 1
            && padding == (1, 1, 1, 1) && weight.dim(0) % 32 == 0 && weight.dim(1) % 32 == 0
    }

    /// Packs `weight` ([out, in, 3, 3], fp32) as bf16 tiles.
    init(weight: Tensor) {
        outChannels = weight.dim(0); inChannels = weight.dim(1)
        packed = .allocate(capacity: dato_amx_conv_weights_size(outChannels, inChannels))
        let (cout, cin, src, dst) = (outChannels, inChannels, weight.data, packed)
        Parallel.chunks(cout / 16) { blocks in
            dato_amx_conv_pack_weights(src, cout, cin, blocks.lowerBound, blocks.upperBound, dst)
        }
    }

    deinit { packed.deallocate() }

    /// Convolves `x` ([N, H, W, in], fp32 or bf16) into `out` ([N, H, W, out]), adding `bias` when given; with
    /// `accumulate`, adds the result to `out` instead of overwriting it.
    func run(_ x: any LayerInput, bias: Tensor?, into out: Tensor, accumulate: Bool) throws {
        let (n, h, w, cin, cout) = (x.dim(0), x.dim(1), x.dim(2), inChannels, outChannels)
        let padded = BF16Tensor(shape: [dato_amx_conv_input_size(n, h, w, cin)])
        let source: UnsafeRawPointer, isBF16: Bool
        switch x {
        case let t as Tensor: (source, isBF16) = (UnsafeRawPointer(t.data), false)
        case let t as BF16Tensor: (source, isBF16) = (UnsafeRawPointer(t.data), true)
        default: throw ComputeError.shape("unsupported convolution input \(type(of: x))")
        }
        let dst = padded.data
        Parallel.chunks(n * (h + 2), minimumPerThread: 4) { rows in
            dato_amx_conv_pad(source, isBF16 ? 1 : 0, n, h, w, cin, rows.lowerBound, rows.upperBound, dst)
        }
        let weights = packed, biasData = bias.map { UnsafePointer($0.data) }, output = out.data
        Parallel.items(dato_amx_conv_items(n, h, w, cin, cout)) { item, _ in
            dato_amx_conv_run(dst, n, h, w, cin, weights, cout, biasData, output, accumulate ? 1 : 0, item)
        }
        withExtendedLifetime(padded) {}
    }
}
