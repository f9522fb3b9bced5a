/// How layers compute: one value chosen by the caller (the `dato` command maps its flags and environment to it)
/// and given to every layer when it is made, so that a loaded model computes the same way for its whole life and
/// two models in one process may compute differently. The defaults are the fastest kernels this CPU has
/// (`CPUFeatures`); turning a kernel off selects the portable path that computes the same function.
public struct ComputeSettings: Sendable {
    /// The 3x3 convolution algorithm of fp32 layers (bf16 ones: `bf16Winograd`).
    public enum ConvolutionAlgorithm: String, Sendable, CaseIterable {
        /// oneDNN's Winograd kernels where it has them: about 2-3x faster on AVX-512, rounding differs from the
        /// direct algorithm by about 1e-5 relative, and more memory for transformed weights.
        case winograd
        /// The direct algorithm.
        case direct
    }

    /// The softmax of the GEMM-based fp32 attention.
    public enum SoftmaxKernel: String, Sendable, CaseIterable {
        /// Powers of two on log2-scaled scores with AVX-512, rows normalised after the product with the values.
        case avx512
        /// The portable kernel (also used wherever a probability map must be written).
        case portable
    }

    /// The format of convolutions, linear layers and attention products (`Precision`).
    public var precision: Precision
    /// fp32 3x3 convolutions: Winograd or direct.
    public var convolution: ConvolutionAlgorithm = .winograd
    /// The format of a pipeline's VAE (fp32 unless asked for: the VAE's output is the image). The text encoder
    /// always computes in fp32.
    public var vaePrecision = Precision.fp32
    /// bf16 attention on swift-dato's AMX kernel (where the CPU has AMX); otherwise oneDNN's products.
    public var amxAttention = CPUFeatures.amx
    /// bf16 attention on swift-dato's AVX512-BF16 dot-product kernel where the CPU has those but no AMX (or AMX
    /// attention is off); otherwise oneDNN's products.
    public var bf16DotAttention = CPUFeatures.avx512bf16
    /// bf16 3x3 and 1x1 convolutions and linear layers on swift-dato's AMX kernel where they qualify (and the
    /// CPU has AMX); otherwise oneDNN's.
    public var amxMatrixKernels = CPUFeatures.amx
    /// bf16 3x3 convolutions (stride 1, padding 1) by swift-dato's Winograd F(2x2, 3x3) kernel on AVX512-BF16 dot
    /// products (`BF16Winograd`) where the CPU has those and the AMX kernels do not run; otherwise direct ones.
    public var bf16Winograd = CPUFeatures.avx512bf16
    /// fp32 3x3 convolutions (stride 1, padding 1, with `convolution` Winograd) whose first call is below 16x16
    /// pixels on swift-dato's Winograd F(2x2, 3x3) kernel (`FP32Winograd`, chosen by `FP32KernelChoice`) where the
    /// CPU has AVX-512; otherwise oneDNN's (direct below 16x16 pixels).
    public var fp32Winograd = CPUFeatures.avx512
    /// fp32 attention on swift-dato's AVX-512 kernel (`Attention.computeFP32Kernel`: scores, softmax and the
    /// product with the values in its own register tiles) where the CPU has AVX-512; otherwise the single-threaded
    /// `attentionGEMM` products around the `softmax` kernel.
    public var fp32AttentionKernel = CPUFeatures.avx512
    /// The single-threaded matrix product inside the GEMM-based fp32 attention.
    public var attentionGEMM = GEMMBackend.onednn
    /// The softmax of the GEMM-based fp32 attention (AVX-512 where the CPU has it).
    public var softmax: SoftmaxKernel = CPUFeatures.avx512 ? .avx512 : .portable
    /// How nearest-token searches (token pruning) run.
    public var similarity = NearestSearch.Options()
    /// Where layers add their wall time (nil: not measured; one branch per layer call).
    public var profiler: Profiler?

    /// The defaults for this CPU, computing in `precision`.
    public init(precision: Precision = .fp32) {
        self.precision = precision
    }

    /// The same settings computing in `precision` (for example the text encoder and VAE of a bf16 model, which
    /// compute in fp32).
    public func with(precision: Precision) -> ComputeSettings {
        var copy = self
        copy.precision = precision
        return copy
    }

    /// The settings of a pipeline's VAE: these, computing in `vaePrecision`.
    public var forVAE: ComputeSettings { with(precision: vaePrecision) }

    /// Whether bf16 attention runs on AMX tiles: asked for, computing in bf16, and the CPU has AMX.
    public var runsAMXAttention: Bool { precision == .bf16 && amxAttention && CPUFeatures.amx }

    /// Whether bf16 attention runs on the AVX512-BF16 dot-product kernel: asked for, computing in bf16, the CPU has
    /// the instructions, and the attention does not run on AMX tiles.
    public var runsBF16DotAttention: Bool {
        precision == .bf16 && bf16DotAttention && CPUFeatures.avx512bf16 && !runsAMXAttention
    }

    /// The packed bf16 attention kernel this attention runs on, if any (`Attention.computePacked`).
    var packedAttention: Attention.PackedKernel? {
        runsAMXAttention ? .amx : runsBF16DotAttention ? .avx512bf16 : nil
    }

    /// Whether bf16 convolutions and linear layers that qualify run on swift-dato's AMX kernel.
    public var runsAMXMatrixKernels: Bool { precision == .bf16 && amxMatrixKernels && CPUFeatures.amx }

    /// Whether bf16 3x3 convolutions run on the Winograd kernel: asked for, computing in bf16, the CPU has
    /// AVX512-BF16, and the AMX kernels do not run.
    public var runsBF16Winograd: Bool {
        precision == .bf16 && bf16Winograd && CPUFeatures.avx512bf16 && !runsAMXMatrixKernels
    }

    /// Whether fp32 3x3 convolutions may run on swift-dato's Winograd kernel: asked for, computing in fp32 with the
    /// Winograd algorithm, and the CPU has AVX-512.
    public var runsFP32Winograd: Bool {
        precision == .fp32 && convolution == .winograd && fp32Winograd && CPUFeatures.avx512
    }

    /// Whether the fp32 attention runs on swift-dato's AVX-512 kernel: asked for, and the CPU has AVX-512.
    public var runsFP32AttentionKernel: Bool { fp32AttentionKernel && CPUFeatures.avx512 }

    /// Whether the GEMM-based fp32 attention may use the AVX-512 softmax.
    var runsAVX512Softmax: Bool { softmax == .avx512 && CPUFeatures.avx512 }

    /// Whether fp32 3x3 convolutions use oneDNN's Winograd kernels.
    var runsWinograd: Bool { precision == .fp32 && convolution == .winograd }
}

/// The single-threaded GEMM used inside the attention kernel.
public enum GEMMBackend: String, Sendable, CaseIterable {
    /// oneDNN's sgemm (measured about 20% faster than OpenBLAS on attention's shapes).
    case onednn
    /// OpenBLAS's sgemm.
    case openblas
}
