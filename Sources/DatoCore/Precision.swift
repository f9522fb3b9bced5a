/// The number format convolutions and linear layers compute in. Inputs and outputs of every layer stay fp32
/// tensors; in `.bf16` a layer's weights are converted once, its input is converted per call, and products
/// accumulate in fp32 (oneDNN's AMX or AVX-512 BF16 kernels where the CPU has them).
public enum Precision: String, Sendable, CaseIterable {
    case fp32, bf16

    /// The precision of layers created in the current scope (fp32 unless a loader sets it, e.g.
    /// `Precision.$forNewLayers.withValue(.bf16) { try UNet2DConditionModel(...) }`).
    @TaskLocal public static var forNewLayers: Precision = .fp32
}
