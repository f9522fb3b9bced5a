import ArgumentParser
import DatoCore

/// The UNet's compute format and the convolution algorithm (shared by the commands that build a UNet).
struct PrecisionOptions: ParsableArguments {
    @Option(help: "UNet compute format (and the VAE's, where a command loads one, unless --vae-precision says otherwise): fp32 (default) or bf16 (weights and layer inputs in bf16, fp32 accumulation; text encoder, norms, softmax and scheduler stay fp32).")
    var precision: Precision = .fp32

    @OptionGroup var convolution: ConvolutionOptions

    /// The compute settings these options and the environment ask for (`ConvolutionOptions.settings`).
    func settings(profiler: Profiler? = nil) -> ComputeSettings { convolution.settings(precision, profiler: profiler) }

    /// How convolutions run in this precision, for benchmark headers.
    var description: String { ConvolutionOptions.describe(settings()) }
}
