import ArgumentParser
import DatoCore

/// The convolution algorithm choice (shared by the commands that build models), and the compute settings it
/// makes together with the environment's switches (`ComputeEnvironment`).
struct ConvolutionOptions: ParsableArguments {
    @Flag(name: .customLong("conv-direct"), help: "fp32: run 3x3 convolutions with the direct algorithm instead of Winograd (about 2.5x slower convolutions, but an fp32 SD UNet needs about 4 instead of 9 GiB at 512 px, and rounding is that of the direct kernels).")
    var direct = false

    /// The settings for layers computing in `precision`: this CPU's defaults, less what the environment turns
    /// off, direct convolutions with `--conv-direct`, measured by `profiler` when given.
    func settings(_ precision: Precision, profiler: Profiler? = nil) -> ComputeSettings {
        var s = ComputeEnvironment.current.applied(to: ComputeSettings(precision: precision))
        if direct { s.convolution = .direct }
        s.profiler = profiler
        return s
    }

    /// The 3x3 convolution algorithm of `settings` ("winograd" or "direct"; bf16: "winograd" where the bf16
    /// Winograd kernel runs).
    static func algorithm(_ settings: ComputeSettings) -> String {
        winograd(settings) ? "winograd" : "direct"
    }

    /// How convolutions run in `settings`, for benchmark headers.
    static func describe(_ settings: ComputeSettings) -> String {
        let convolutions = "(\(winograd(settings) ? "Winograd 3x3" : "direct") convolutions)"
        return settings.precision == .bf16 ? "bf16 \(convolutions)" : "fp32 \(convolutions)"
    }

    /// Whether 3x3 convolutions (stride 1) in `settings` run by the Winograd algorithm.
    private static func winograd(_ settings: ComputeSettings) -> Bool {
        settings.precision == .bf16 ? settings.runsBF16Winograd : settings.convolution == .winograd
    }
}
