import CDatoDNNL
import Foundation

/// A 2-D convolution on NHWC tensors (weights in PyTorch's OIHW layout), run by oneDNN or, for bf16 3x3 and 1x1
/// convolutions on a CPU with AMX, by swift-dato's AMX kernel (`AMXConvolution`), or, for bf16 3x3 ones on a CPU
/// with AVX512-BF16 but no AMX, by swift-dato's Winograd kernel (`BF16Winograd`); fp32 3x3 ones on an AVX-512 CPU
/// whose first call is below 16x16 pixels run on swift-dato's fp32 Winograd kernel (`FP32KernelChoice`).
///
/// oneDNN primitives are created once per input shape and reused.
public final class Conv2D: @unchecked Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: (Int, Int)
    public let stride: Int
    /// Padding (top, left, bottom, right).
    public let padding: (Int, Int, Int, Int)
    /// How the convolution computes (precision, algorithm, kernels, profiler), fixed when it was made.
    public let compute: ComputeSettings
    /// The format the convolution computes in (`compute.precision`).
    public var precision: Precision { compute.precision }
    /// The weights, or nil when the convolution runs as `parts`, with `amx`, `winograd` or `fp32Choice`.
    let weights: DNNLWeights?
    /// swift-dato's own AMX kernel, which runs bf16 3x3 and 1x1 convolutions where the CPU has AMX (`AMXConvolution`).
    let amx: AMXConvolution?
    /// swift-dato's bf16 Winograd kernel for 3x3 convolutions on AVX512-BF16 CPUs without AMX (`BF16Winograd`).
    let winograd: BF16Winograd?
    /// An fp32 3x3 convolution that swift-dato's fp32 Winograd kernel can run: its kernel, chosen at the first call.
    let fp32Choice: FP32KernelChoice?
    let bias: Tensor?
    /// A bf16 convolution with a kernel larger than 1x1 and more than `bf16MaxInputChannels` input channels runs
    /// as several convolutions over groups of input channels whose results add up (the first one adds the bias).
    let parts: [(channels: Range<Int>, conv: Conv2D)]
    private let ops = DNNLOpCache()

    /// oneDNN's AMX convolutions run 1.3-1.6x slower per multiply-add with 1920 or 2560 input channels than with
    /// 1280 or fewer (`dato bench ops`, 3x3 at 8x8 to 32x32 pixels, as in SD's up blocks), so bf16 convolutions
    /// with more input channels are split into groups of at most this many. fp32 (Winograd) has no such penalty,
    /// nor has the bf16 Winograd kernel (`BF16Winograd`, which sizes its blocks of tiles by the input channels).
    /// `AMXConvolution` gains from the split too (2560 -> 1280 at 16x16: the packed weights of 32 output channels,
    /// 1.5 MB whole, no longer fit in L2 beside the input rows).
    public static let bf16MaxInputChannels = 1280

    /// `weight` is [out, in, kh, kw]; `bias` is [out] or nil. Symmetric `padding`.
    public convenience init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int,
                            compute: ComputeSettings = ComputeSettings()) throws {
        try self.init(weight: weight, bias: bias, stride: stride, padding: (padding, padding, padding, padding),
                      compute: compute)
    }

    /// `padding` is (top, left, bottom, right), as needed for the VAE encoder's asymmetric downsampler.
    public init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: (Int, Int, Int, Int),
                compute: ComputeSettings = ComputeSettings()) throws {
        precondition(weight.shape.count == 4, "conv weight must be 4-D, got \(weight.shape)")
        outChannels = weight.dim(0); inChannels = weight.dim(1)
        kernel = (weight.dim(2), weight.dim(3))
        self.stride = stride
        self.padding = padding
        self.bias = bias
        self.compute = compute
        let precision = compute.precision
        let useWinograd = compute.runsBF16Winograd
            && BF16Winograd.qualifies(weight: weight, stride: stride, padding: padding)
        fp32Choice = compute.runsFP32Winograd && FP32Winograd.qualifies(weight: weight, stride: stride, padding: padding)
            ? FP32KernelChoice(weight: weight) : nil
        // The Winograd kernel blocks its own work by input channels: no split.
        let groups = precision == .bf16 && weight.dim(2) * weight.dim(3) > 1 && !useWinograd
            ? Self.channelGroups(inChannels) : []
        if groups.isEmpty && compute.runsAMXMatrixKernels
            && AMXConvolution.qualifies(weight: weight, stride: stride, padding: padding) {
            amx = AMXConvolution(weight: weight)
            winograd = nil
            weights = nil
            parts = []
        } else if useWinograd {
            amx = nil
            winograd = BF16Winograd(weight: weight)
            weights = nil
            parts = []
        } else if groups.isEmpty {
            amx = nil
            winograd = nil
            weights = fp32Choice == nil ? try DNNLWeights(conv: weight, precision: precision) : nil
            parts = []
        } else {
            amx = nil
            winograd = nil
            weights = nil
            parts = try groups.enumerated().map { i, range in
                (range, try Conv2D(weight: Self.inputChannels(range, of: weight), bias: i == 0 ? bias : nil,
                                   stride: stride, padding: padding, compute: compute))
            }
        }
    }

    /// Equal groups of at most `bf16MaxInputChannels` input channels (none when one group suffices).
    static func channelGroups(_ channels: Int) -> [Range<Int>] {
        let count = (channels + bf16MaxInputChannels - 1) / bf16MaxInputChannels
        guard count > 1 else { return [] }
        return (0..<count).map { channels * $0 / count ..< channels * ($0 + 1) / count }
    }

    /// weight[:, range, :, :] as a dense [out, range.count, kh, kw] tensor.
    static func inputChannels(_ range: Range<Int>, of weight: Tensor) -> Tensor {
        let out = weight.dim(0), inner = weight.dim(2) * weight.dim(3), rowLength = weight.dim(1) * inner
        let slice = Tensor(shape: [out, range.count, weight.dim(2), weight.dim(3)], zeroed: false)
        for o in 0..<out {
            (slice.data + o * range.count * inner).update(from: weight.data + o * rowLength + range.lowerBound * inner,
                                                          count: range.count * inner)
        }
        return slice
    }

    /// Output spatial size for an input of `h x w`.
    public func outputSize(h: Int, w: Int) -> (Int, Int) {
        ((h + padding.0 + padding.2 - kernel.0) / stride + 1, (w + padding.1 + padding.3 - kernel.1) / stride + 1)
    }

    /// Convolves `x` [N, H, W, Cin] (fp32, or bf16 for a bf16 convolution) into a new [N, OH, OW, Cout] tensor.
    public func callAsFunction(_ x: any LayerInput) throws -> Tensor {
        let (oh, ow) = outputSize(h: x.dim(1), w: x.dim(2))
        let out = Tensor(shape: [x.dim(0), oh, ow, outChannels], zeroed: false)
        try run(x, into: out, accumulate: false)
        return out
    }

    /// Convolves `x` and adds the result to `dst` (a fused residual add).
    public func accumulate(_ x: any LayerInput, into dst: Tensor) throws {
        try run(x, into: dst, accumulate: true)
    }

    private func run(_ x: any LayerInput, into out: Tensor, accumulate: Bool) throws {
        guard x.shape.count == 4, x.dim(3) == inChannels else {
            throw ComputeError.shape("conv expects [N, H, W, \(inChannels)], got \(x.shape)")
        }
        let (oh, ow) = outputSize(h: x.dim(1), w: x.dim(2))
        guard out.shape == [x.dim(0), oh, ow, outChannels] else {
            throw ComputeError.shape("conv output \(out.shape) for input \(x.shape)")
        }
        if let amx {
            compute.profiler.measure(.convolution, shape: self.shapeText(x)) {
                amx.run(x, bias: bias, into: out, accumulate: accumulate)
            }
        } else if let winograd {
            compute.profiler.measure(.convolution, shape: self.shapeText(x)) {
                winograd.run(x, bias: bias, into: out, accumulate: accumulate)
            }
        } else if let weights {
            try run(x, weights, into: out, accumulate: accumulate)
        } else if let fp32Choice {
            try run(x, fp32Choice, into: out, accumulate: accumulate)
        } else {
            for (i, part) in parts.enumerated() {
                try part.conv.run(x.channels(part.channels), into: out, accumulate: accumulate || i > 0)
            }
        }
    }

    private func run(_ x: any LayerInput, _ weights: DNNLWeights, into out: Tensor, accumulate: Bool) throws {
        let key = [x.dim(0), x.dim(1), x.dim(2), accumulate ? 1 : 0]
        let op = try ops.op(key) { try makeOp(n: x.dim(0), h: x.dim(1), w: x.dim(2), accumulate: accumulate) }
        try compute.profiler.measure(.convolution, shape: self.shapeText(x)) {
            try op.run(weights, input: x, bias: bias, dst: out.data)
        }
    }

    private func run(_ x: any LayerInput, _ choice: FP32KernelChoice, into out: Tensor, accumulate: Bool) throws {
        switch try choice.kernel(pixels: x.dim(1) * x.dim(2)) {
        case .onednn(let weights):
            try run(x, weights, into: out, accumulate: accumulate)
        case .winograd(let kernel):
            let input = x.widened()
            compute.profiler.measure(.convolution, shape: self.shapeText(x)) {
                kernel.run(input, bias: bias, into: out, accumulate: accumulate)
            }
        }
    }

    /// "3x3 320->320 at 64x64, batch 2" (for `Profiler.byShape`).
    private func shapeText(_ x: any LayerInput) -> String {
        "\(kernel.0)x\(kernel.1)\(stride > 1 ? " stride \(stride)" : "") \(x.dim(3))->\(outChannels) at "
            + "\(x.dim(1))x\(x.dim(2)), batch \(x.dim(0))"
    }

    private func makeOp(n: Int, h: Int, w: Int, accumulate: Bool) throws -> DNNLOp {
        try DNNLOp { err, len in
            dato_conv_create(n, inChannels, h, w, outChannels, kernel.0, kernel.1, stride, stride,
                             padding.0, padding.1, padding.2, padding.3, bias == nil ? 0 : 1,
                             accumulate ? 1 : 0, precision == .bf16 ? 1 : 0, compute.runsWinograd ? 1 : 0, err, len)
        }
    }

    /// oneDNN's kernel name for the most recently created primitive (for profiles and tests; of the last
    /// channel group for a split convolution).
    public var implementation: String? {
        if amx != nil { return "dato:amx_bf16" }
        if winograd != nil { return "dato:winograd_bf16" }
        if let name = fp32Choice?.chosenName { return name }
        return parts.last?.conv.implementation ?? ops.lastImplementation
    }
}
