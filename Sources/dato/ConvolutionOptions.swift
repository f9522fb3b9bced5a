import ArgumentParser
import DatoCore

/// The convolution algorithm choice (shared by the commands that build models).
struct ConvolutionOptions: ParsableArguments {
    @Flag(name: .customLong("conv-direct"), help: "fp32: run 3x3 convolutions with the direct algorithm instead of Winograd (about 2.5x slower convolutions, but an fp32 SD UNet needs about 4 instead of 8.3 GiB, and rounding is that of the direct kernels).")
    var direct = false

    /// Applies the choice to the layers created from now on.
    func apply() {
        if direct { Conv2D.winograd = false }
    }

    /// The 3x3 convolution algorithm in `precision` ("winograd" or "direct"; bf16 is always direct).
    func algorithm(_ precision: Precision) -> String {
        precision == .fp32 && Conv2D.winograd ? "winograd" : "direct"
    }

    /// How convolutions run for `precision`, for benchmark headers.
    func describe(_ precision: Precision) -> String {
        precision == .bf16 ? "bf16" : "fp32 (\(Conv2D.winograd ? "Winograd 3x3" : "direct") convolutions)"
    }
}
