/// The number format convolutions and linear layers compute in (`ComputeSettings.precision`, fixed per layer). In `.bf16` a layer's weights are converted once
/// and products accumulate in fp32 (oneDNN's AMX or AVX-512 BF16 kernels where the CPU has them); a layer's input
/// is either an fp32 tensor it converts per call or a `BF16Tensor` its producer wrote (norms, GEGLU, attention),
/// and its output is fp32 unless its consumer reads bf16. The residual streams and all statistics stay fp32.
public enum Precision: String, Sendable, CaseIterable {
    case fp32, bf16
}
