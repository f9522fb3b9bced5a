import ArgumentParser
import DatoCore
import DatoModels
import Foundation

/// `dato bench ops`: the UNet's dominant operations at SD 1.5 sizes, each timed alone (best of N).
struct BenchOps: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "Time the UNet's dominant operations at SD 1.5 sizes (best of repeats, GFLOP/s)."
    )

    @Option(help: "Repeats per operation.") var repeats = 10
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var compute: PrecisionOptions
    var precision: Precision { compute.precision }
    @Option(help: "Only the operations whose name contains this text (e.g. attention).") var only: String?

    func validate() throws {
        try checkArguments {
            try ArgumentCheck.integer(repeats, "--repeats", in: 1...1000)
        }
    }

    func run() throws {
        threadOptions.apply()
        try measure(compute.settings())
    }

    /// Times each operation with its layers made with `settings`.
    func measure(_ settings: ComputeSettings) throws {
        print("precision \(ConvolutionOptions.describe(settings)), \(Parallel.threadCount) threads")
        let rnd = RandomSource(seed: 3)
        func time(_ name: String, flops: Double, _ body: () throws -> Void) rethrows {
            if let only, !name.contains(only) { return }
            try body()
            var best = Double.infinity
            for _ in 0..<repeats {
                let s = Date()
                try body()
                best = min(best, Date().timeIntervalSince(s))
            }
            print(name.padding(toLength: 48, withPad: " ", startingAt: 0) + String(format: " %9.2f ms %8.1f GFLOP/s", best * 1e3, flops / best / 1e9))
        }
        let x320 = try rnd.load("x", shape: [2, 64, 64, 320])
        let conv = try Conv2D(weight: rnd.load("w", shape: [320, 320, 3, 3]), bias: rnd.load("b", shape: [320]), padding: 1,
                              compute: settings)
        try time("conv 3x3 320->320, 64x64, batch 2", flops: 2 * 8192 * 320 * 320 * 9) { _ = try conv(x320) }
        let conv2 = try Conv2D(weight: rnd.load("w", shape: [1280, 1280, 3, 3]), bias: rnd.load("b", shape: [1280]), padding: 1,
                               compute: settings)
        for side in [16, 8] {
            let x = try rnd.load("x", shape: [2, side, side, 1280])
            try time("conv 3x3 1280->1280, \(side)x\(side), batch 2", flops: 2 * Double(2 * side * side) * 1280 * 1280 * 9) {
                _ = try conv2(x)
            }
        }
        let tokens = x320.copy().reshape([2, 4096, 320])
        let lin = try Linear(weight: rnd.load("w", shape: [320, 320]), bias: nil, compute: settings)
        try time("linear 8192x320 -> 320", flops: 2 * 8192 * 320 * 320) { _ = try lin(tokens) }
        let ff = try Linear(weight: rnd.load("w", shape: [2560, 320]), bias: rnd.load("b", shape: [2560]), compute: settings)
        try time("linear 8192x320 -> 2560 (GEGLU proj)", flops: 2 * 8192 * 320 * 2560) { _ = try ff(tokens) }
        let big = try Linear(weight: rnd.load("w", shape: [2048, 2048]), bias: nil, compute: settings)
        let xb = try rnd.load("x", shape: [2048, 2048])
        try time("linear 2048x2048 -> 2048", flops: 2 * 2048 * 2048 * 2048) { _ = try big(xb) }
        try measureSelfAttention(time, rnd: rnd, tokens4096: tokens, settings: settings)
        let ctx = try rnd.load("c", shape: [2, 77, 320])
        try time("cross-attention 4096 x 77 tokens, 8 heads", flops: 2 * 2 * 2 * 4096 * 77 * 320) {
            _ = try Attention.scaledDotProduct(q: tokens, k: ctx, v: ctx, heads: 8, compute: settings)
        }
        let g = try rnd.load("g.weight", shape: [320]), b = try rnd.load("g.bias", shape: [320])
        time("group norm + SiLU [2, 64, 64, 320]", flops: 0) {
            _ = Normalization.groupNorm(x320, groups: 32, gamma: g, beta: b, eps: 1e-5, silu: true)
        }
        if precision == .bf16 {
            try measureHandoffs(time, rnd: rnd, x320: x320, conv: conv, lin: lin, g: g, b: b, settings: settings)
        }
        if settings.runsAMXMatrixKernels {
            try compareConvKernels(rnd: rnd, settings: settings)
            try compareLinearKernels(rnd: rnd, settings: settings)
        }
        if settings.runsBF16Winograd || settings.runsFP32Winograd {
            try compareWinograd(rnd: rnd, settings: settings)
        }
    }

    /// The self-attention of the SD 1.5 UNet's levels (batch 2, 8 heads): 4096 tokens of 40 (64x64 latents' first
    /// level), then 1024 x 40, 256 x 80 and 64 x 160 (32x32 latents). In bf16 the kernel the settings choose; in fp32
    /// swift-dato's AVX-512 kernel (where the CPU has it) and the GEMM-based kernel's chunks and GEMM backends.
    func measureSelfAttention(_ time: (String, Double, () throws -> Void) throws -> Void, rnd: RandomSource,
                              tokens4096: Tensor, settings: ComputeSettings) throws {
        // swift-dato's packed bf16 kernels have their own blocking.
        let packed = settings.runsAMXAttention ? "AMX tiles" : settings.runsBF16DotAttention ? "AVX512-BF16" : nil
        var variants: [(String, ComputeSettings, Int)] = []
        if precision == .bf16 {
            variants.append((packed ?? "chunk 64, onednn", settings, 64))
        } else {
            var kernel = settings
            kernel.fp32AttentionKernel = true
            if kernel.runsFP32AttentionKernel { variants.append(("AVX-512 kernel", kernel, 64)) }
            for backend in GEMMBackend.allCases {
                var gemms = settings
                (gemms.fp32AttentionKernel, gemms.attentionGEMM) = (false, backend)
                variants += [64, 128, 256].map { ("chunk \($0), \(backend)", gemms, $0) }
            }
        }
        for (n, width) in [(4096, 320), (1024, 320), (256, 640), (64, 1280)] {
            let x = n == 4096 ? tokens4096 : try rnd.load("t", shape: [2, n, width])
            // The smaller levels only with the kernel the settings choose, or chunks of 64 on oneDNN.
            for (what, compute, chunk) in variants where n == 4096 || chunk == 64 && !what.contains("openblas") {
                try time("attention \(n) tok, 8x\(width / 8), b2, \(what)", 2 * 2 * 2 * Double(n * n * width)) {
                    _ = try Attention.scaledDotProduct(q: x, k: x, v: x, heads: 8, chunk: chunk, compute: compute)
                }
            }
        }
    }

    /// The 3x3 convolutions of the SD 1.5 UNet (64x64 and 32x32 latents, batch 2) on oneDNN's direct kernels
    /// against swift-dato's Winograd kernel, calls taking turns: medians and the median of the per-pair ratios. bf16:
    /// every level (`BF16Winograd`); fp32: the levels below 16x16 pixels, where `FP32Winograd` runs.
    func compareWinograd(rnd: RandomSource, settings: ComputeSettings) throws {
        let bf16Shapes = [(64, 320, 320), (32, 320, 320), (32, 640, 640), (16, 640, 640), (16, 1280, 1280),
                          (8, 1280, 1280), (4, 1280, 1280), (8, 2560, 1280), (4, 2560, 1280), (32, 1920, 640),
                          (64, 960, 320), (64, 4, 320), (64, 320, 4)]
        let fp32Shapes = [(8, 1280, 1280), (4, 1280, 1280), (8, 2560, 1280), (4, 2560, 1280), (8, 1920, 1280),
                          (8, 640, 1280), (8, 320, 320)]
        let bf16 = precision == .bf16
        for (side, cin, cout) in bf16 ? bf16Shapes : fp32Shapes {
            let name = "conv 3x3 \(cin)->\(cout), \(side)x\(side), batch 2: direct / Winograd"
            if let only, !name.contains(only) { continue }
            let w = try rnd.load("w", shape: [cout, cin, 3, 3]), bias = try rnd.load("b", shape: [cout])
            let plain = try rnd.load("x", shape: [2, side, side, cin])
            let x: any LayerInput = bf16 ? BF16Tensor(rounding: plain) : plain
            let convs = try [false, true].map { on in
                var s = settings
                if bf16 { s.bf16Winograd = on } else { s.fp32Winograd = on }
                return try Conv2D(weight: w, bias: bias, padding: 1, compute: s)
            }
            try compareTakingTurns(name) { k in _ = try convs[k](x) }
            var fp32 = settings.with(precision: .fp32)
            fp32.convolution = .direct
            let reference = try Conv2D(weight: w, bias: bias, padding: 1, compute: fp32)(x.widened())
            let errors = try convs.map { Self.relativeErrors(try $0(x), reference, bias: bias) }
            print(String(format: "  error against fp32 direct (RMS, max; relative to RMS, max |y - bias|): "
                         + "direct %.1e, %.1e; Winograd %.1e, %.1e", errors[0].rms, errors[0].max, errors[1].rms,
                         errors[1].max))
        }
    }

    /// The RMS and largest difference of `y` from `reference`, relative to the RMS and largest magnitude of the
    /// reference less its `bias` (the random inputs are small: the bias would dominate).
    static func relativeErrors(_ y: Tensor, _ reference: Tensor, bias: Tensor) -> (rms: Double, max: Double) {
        var (squares, refSquares, largest, refLargest) = (0.0, 0.0, 0.0, 0.0)
        for i in 0..<reference.count {
            let (a, b) = (Double(y[i]), Double(reference[i]))
            let sum = b - Double(bias[i % bias.count])
            squares += (a - b) * (a - b)
            refSquares += sum * sum
            largest = max(largest, abs(a - b))
            refLargest = max(refLargest, abs(sum))
        }
        let tiny = Double.leastNonzeroMagnitude
        return ((squares / max(refSquares, tiny)).squareRoot(), largest / max(refLargest, tiny))
    }

    /// oneDNN's bf16 3x3 and 1x1 convolutions against swift-dato's AMX kernel at the UNet's sizes, calls taking turns
    /// (this machine's speed drifts within seconds): medians and the median of the per-pair ratios.
    func compareConvKernels(rnd: RandomSource, settings: ComputeSettings) throws {
        let shapes = [(3, 64, 320, 320), (3, 32, 640, 640), (3, 16, 1280, 1280), (3, 8, 1280, 1280), (3, 16, 2560, 1280),
                      (3, 8, 2560, 1280), (1, 64, 640, 320), (1, 32, 1280, 640), (1, 16, 2560, 1280), (1, 8, 2560, 1280)]
        for (k, side, cin, cout) in shapes {
            let name = "conv \(k)x\(k) \(cin)->\(cout), \(side)x\(side), batch 2: oneDNN / ours"
            if let only, !name.contains(only) { continue }
            let w = try rnd.load("w", shape: [cout, cin, k, k]), bias = try rnd.load("b", shape: [cout])
            let x = BF16Tensor(rounding: try rnd.load("x", shape: [2, side, side, cin]))
            let convs = try onBothKernels(settings) { try Conv2D(weight: w, bias: bias, padding: k / 2, compute: $0) }
            try compareTakingTurns(name) { k in _ = try convs[k](x) }
        }
    }

    /// oneDNN's bf16 linear layers against swift-dato's AMX kernel at the UNet's sizes (bf16 input, as the layers
    /// get it from norms and GEGLU), calls taking turns: medians and the median of the per-pair ratios.
    func compareLinearKernels(rnd: RandomSource, settings: ComputeSettings) throws {
        let shapes = [(8192, 320, 320), (2048, 640, 640), (512, 1280, 1280), (512, 320, 2560), (512, 1280, 320),
                      (512, 1280, 10240), (512, 5120, 1280)]
        for (rows, inF, outF) in shapes {
            let name = "linear \(rows)x\(inF) -> \(outF), bf16 input: oneDNN / ours"
            if let only, !name.contains(only) { continue }
            let w = try rnd.load("w", shape: [outF, inF]), bias = try rnd.load("b", shape: [outF])
            let x = BF16Tensor(rounding: try rnd.load("x", shape: [rows, inF]))
            let layers = try onBothKernels(settings) { try Linear(weight: w, bias: bias, compute: $0) }
            try compareTakingTurns(name) { k in _ = try layers[k](x) }
        }
    }

    /// The layer `make` creates from `settings`, made for oneDNN and for our AMX kernel (in that order).
    func onBothKernels<Layer>(_ settings: ComputeSettings, _ make: (ComputeSettings) throws -> Layer) rethrows -> [Layer] {
        try [false, true].map { own in
            var s = settings
            s.amxMatrixKernels = own
            return try make(s)
        }
    }

    /// Runs `body(0)` and `body(1)` taking turns (after one warm-up round) and prints their medians and the
    /// median of the per-pair ratios time(0) / time(1).
    func compareTakingTurns(_ name: String, _ body: (Int) throws -> Void) rethrows {
        var times: [[Double]] = [[], []]
        for i in 0...max(repeats, 1) {
            for k in i % 2 == 0 ? [0, 1] : [1, 0] {
                let s = Date()
                try body(k)
                if i > 0 { times[k].append(Date().timeIntervalSince(s)) }   // the first round warms up
            }
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        let ratio = median(zip(times[0], times[1]).map { $0 / $1 })
        print(name.padding(toLength: 60, withPad: " ", startingAt: 0)
              + String(format: " %7.2f / %7.2f ms  %.2fx", 1e3 * median(times[0]), 1e3 * median(times[1]), ratio))
    }

    /// A producer and the bf16 layers reading its result, with the result handed over in fp32 (each layer
    /// converts it) and in bf16 (the producer rounds it once).
    func measureHandoffs(_ time: (String, Double, () throws -> Void) throws -> Void, rnd: RandomSource, x320: Tensor,
                         conv: Conv2D, lin: Linear, g: Tensor, b: Tensor, settings: ComputeSettings) throws {
        let tokens = x320.copy().reshape([2, 4096, 320])
        let qkv = 3 * 2.0 * 8192 * 320 * 320
        for half in [false, true] {
            let how = half ? "bf16 handoff" : "fp32 handoff"
            try time("layer norm -> q, k, v 8192x320, \(how)", qkv) {
                let h: any LayerInput = half ? Normalization.layerNormBF16(tokens, gamma: g, beta: b, eps: 1e-5)
                    : Normalization.layerNorm(tokens, gamma: g, beta: b, eps: 1e-5)
                for _ in 0..<3 { _ = try lin(h) }
            }
        }
        let proj = try Linear(weight: rnd.load("w", shape: [2560, 320]), bias: rnd.load("b", shape: [2560]), compute: settings)
        let out = try Linear(weight: rnd.load("w", shape: [320, 1280]), bias: nil, compute: settings)
        for half in [false, true] {
            try time("FF 320 -> 2560, GEGLU, -> 320, \(half ? "bf16" : "fp32") handoffs", 2 * 8192 * 320 * 3840) {
                _ = try half ? out(Elementwise.gegluBF16(proj.roundedToBF16(tokens)))
                    : out(Elementwise.geglu(proj(tokens)))
            }
        }
        let ff = try FeedForward(Parameters(rnd).scope("ff", compute: settings), dim: 320)
        let normed = Normalization.layerNormBF16(tokens, gamma: g, beta: b, eps: 1e-5), residual = tokens.copy()
        try time("FF bf16, whole", 2 * 8192 * 320 * 3840) { _ = try ff(normed) }
        try time("FF bf16, \(FeedForward.rowsPerPiece)-row pieces added to the residual", 2 * 8192 * 320 * 3840) {
            try ff(normed, addTo: residual)
        }
        for half in [false, true] {
            try time("group norm + SiLU -> conv 3x3 320, \(half ? "bf16" : "fp32") handoff", 2 * 8192 * 320 * 320 * 9) {
                let h: any LayerInput = half ? Normalization.groupNormBF16(x320, groups: 32, gamma: g, beta: b, eps: 1e-5, silu: true)
                    : Normalization.groupNorm(x320, groups: 32, gamma: g, beta: b, eps: 1e-5, silu: true)
                _ = try conv(h)
            }
        }
    }
}
