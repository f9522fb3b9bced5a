import CDatoAMX
import Foundation

/// A bf16 3x3 convolution (stride 1, padding 1) by the Winograd F(2x2, 3x3) algorithm (`dato_bf16_winograd.c`):
/// 4 multiplies per output pixel and channel pair instead of 9, on AVX512-BF16 dot products (or, where the CPU
/// lacks them, portable C computing the same sums, for tests). The filters are transformed once (in fp32, rounded
/// to bf16); each call transforms the input patches (rounded to bf16), runs 16 products with fp32 accumulation
/// and transforms them back, adding the bias.
final class BF16Winograd: @unchecked Sendable {
    let inChannels: Int
    let outChannels: Int
    /// Whether the products run on vdpbf16ps (else the portable C path).
    let usesAVX512BF16: Bool
    private let packed: UnsafeMutablePointer<UInt16>

    /// The fewest input and output channels a convolution needs to run on this kernel: it pads both to multiples
    /// of 32, and below 32 the direct kernels were faster (`dato bench ops`, Zen 4, 64x64 batch 2: 4->320 0.3x,
    /// 320->4 0.5x, 16->320 0.8x, 320->16 0.5x the direct speed; 32->32 1.1x, 64->64 1.5x, 320->320 1.7x).
    static let minimumChannels = 32

    /// Whether Conv2D should run a convolution with these weights and geometry on this kernel: 3x3, stride 1,
    /// padding 1 on every side, at least `minimumChannels` input and output channels.
    static func qualifies(weight: Tensor, stride: Int, padding: (Int, Int, Int, Int)) -> Bool {
        Winograd3x3.qualifies(weight: weight, stride: stride, padding: padding, minimumChannels: minimumChannels)
    }

    /// Transforms and packs `weight` ([out, in, 3, 3], fp32). `avx512bf16` selects the vdpbf16ps path (only
    /// honoured where the CPU has it).
    init(weight: Tensor, avx512bf16: Bool = CPUFeatures.avx512bf16) {
        precondition(weight.shape.count == 4 && weight.dim(2) == 3 && weight.dim(3) == 3, "3x3 weights expected")
        outChannels = weight.dim(0); inChannels = weight.dim(1)
        usesAVX512BF16 = avx512bf16 && CPUFeatures.avx512bf16
        packed = .allocate(capacity: dato_wino_weights_size(inChannels, outChannels))
        let (cin, cout, src, dst) = (inChannels, outChannels, weight.data, packed)
        Parallel.chunks(dato_wino_panels(cout)) { panels in
            dato_wino_pack_weights(src, cin, cout, panels.lowerBound, panels.upperBound, dst)
        }
    }

    deinit { packed.deallocate() }

    /// Convolves `x` ([N, H, W, in], fp32 or bf16) into `out` ([N, H, W, out], fp32), adding `bias` when given;
    /// with `accumulate`, adds the result to `out` instead of overwriting it.
    func run(_ x: any LayerInput, bias: Tensor?, into out: Tensor, accumulate: Bool) {
        let (n, h, w, cin, cout) = (x.dim(0), x.dim(1), x.dim(2), inChannels, outChannels)
        let avx: Int32 = usesAVX512BF16 ? 1 : 0
        let (source, isBF16) = x.storage
        let transformed = BF16Tensor(shape: [dato_wino_input_size(n, h, w, cin)])
        let v = transformed.data
        Parallel.chunks(dato_wino_tile_rows(n, h, w), minimumPerThread: 8) { tiles in
            dato_wino_transform_input(source, isBF16 ? 1 : 0, n, h, w, cin, tiles.lowerBound, tiles.upperBound, v, avx)
        }
        let (weights, biasData, dst) = (UnsafePointer(packed), bias.map { UnsafePointer($0.data) }, out.data)
        let scratchBytes = dato_wino_scratch_size(n, h, w, cin, cout)
        Winograd3x3.runItems(dato_wino_items(n, h, w, cin, cout), scratchBytes: scratchBytes) { item, scratch in
            dato_wino_run(v, n, h, w, cin, weights, cout, biasData, dst, accumulate ? 1 : 0, item, scratch, avx)
        }
        withExtendedLifetime((x, transformed, bias, out)) {}
    }
}
