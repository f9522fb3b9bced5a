import CDatoAMX
import Foundation

/// An fp32 3x3 convolution (stride 1, padding 1) by the Winograd F(2x2, 3x3) algorithm (`dato_fp32_winograd.c`):
/// 4 multiplies per output pixel and channel pair instead of 9, on AVX-512 fused multiply-adds (or, where the CPU
/// lacks them, portable C computing the same sums, for tests). The filters are transformed once (in fp64, stored
/// as fp32: 16/9 of the plain weights' size); each call transforms the input patches, runs 16 products and
/// transforms them back, adding the bias. Made for the small images where oneDNN 2.6 has no fast fp32 Winograd
/// kernel (below 16x16 pixels, an SD UNet's two deepest levels); `Conv2D` chooses it by `FP32KernelChoice`.
final class FP32Winograd: @unchecked Sendable {
    let inChannels: Int
    let outChannels: Int
    /// Whether the products run on AVX-512 (else the portable C path).
    let usesAVX512: Bool
    private let packed: UnsafeMutablePointer<Float>

    /// The fewest input and output channels a convolution needs to run on this kernel (oneDNN's Winograd
    /// kernels' rule, whose place it takes).
    static let minimumChannels = 16

    /// Whether a convolution with these weights and geometry can run on this kernel: 3x3, stride 1, padding 1 on
    /// every side, at least `minimumChannels` input and output channels.
    static func qualifies(weight: Tensor, stride: Int, padding: (Int, Int, Int, Int)) -> Bool {
        Winograd3x3.qualifies(weight: weight, stride: stride, padding: padding, minimumChannels: minimumChannels)
    }

    /// Transforms and packs `weights` ([outChannels, inChannels, 3, 3]). `avx512` selects the AVX-512 path (only
    /// honoured where the CPU has it).
    init(weights: UnsafePointer<Float>, outChannels: Int, inChannels: Int, avx512: Bool = CPUFeatures.avx512) {
        self.outChannels = outChannels; self.inChannels = inChannels
        usesAVX512 = avx512 && CPUFeatures.avx512
        packed = .allocate(capacity: dato_wino32_weights_size(inChannels, outChannels))
        let (cin, cout, dst) = (inChannels, outChannels, packed)
        Parallel.chunks(dato_wino32_panels(cout)) { panels in
            dato_wino32_pack_weights(weights, cin, cout, panels.lowerBound, panels.upperBound, dst)
        }
    }

    /// Transforms and packs `weight` ([out, in, 3, 3]).
    convenience init(weight: Tensor, avx512: Bool = CPUFeatures.avx512) {
        precondition(weight.shape.count == 4 && weight.dim(2) == 3 && weight.dim(3) == 3, "3x3 weights expected")
        self.init(weights: weight.data, outChannels: weight.dim(0), inChannels: weight.dim(1), avx512: avx512)
        withExtendedLifetime(weight) {}
    }

    deinit { packed.deallocate() }

    /// Convolves `x` ([N, H, W, in]) into `out` ([N, H, W, out]), adding `bias` when given; with `accumulate`,
    /// adds the result to `out` instead of overwriting it.
    func run(_ x: Tensor, bias: Tensor?, into out: Tensor, accumulate: Bool) {
        let (n, h, w, cin, cout) = (x.dim(0), x.dim(1), x.dim(2), inChannels, outChannels)
        let avx: Int32 = usesAVX512 ? 1 : 0
        let transformed = Tensor(shape: [dato_wino32_input_size(n, h, w, cin)], zeroed: false)
        let (source, v) = (UnsafePointer(x.data), transformed.data)
        Parallel.chunks(dato_wino32_tile_rows(n, h, w), minimumPerThread: 8) { tiles in
            dato_wino32_transform_input(source, n, h, w, cin, tiles.lowerBound, tiles.upperBound, v, avx)
        }
        let (weights, biasData, dst) = (UnsafePointer(packed), bias.map { UnsafePointer($0.data) }, out.data)
        let scratchBytes = dato_wino32_scratch_size(n, h, w, cin, cout)
        Winograd3x3.runItems(dato_wino32_items(n, h, w, cin, cout), scratchBytes: scratchBytes) { item, scratch in
            dato_wino32_run(v, n, h, w, cin, weights, cout, biasData, dst, accumulate ? 1 : 0, item, scratch, avx)
        }
        withExtendedLifetime((x, transformed, bias, out)) {}
    }
}
