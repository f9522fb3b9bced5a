import CDatoAMX
import CDatoKernels

/// What this CPU can run, detected once: the kernels `ComputeSettings` may choose from. A setting that asks for a
/// kernel the CPU lacks falls back to the portable one instead of failing.
public enum CPUFeatures {
    /// AMX tiles with bf16 products (Intel Xeon since Sapphire Rapids), usable by this process.
    public static let amx = dato_amx_available() == 1
    /// AVX-512 (foundation), for the fp32 attention's softmax.
    public static let avx512 = dato_avx512_available() == 1
    /// AVX-512 with bf16 dot products (vdpbf16ps: Intel Cooper Lake and later, AMD Zen 4 and later), for the bf16
    /// attention kernel of CPUs without AMX.
    public static let avx512bf16 = dato_avx512bf16_available() == 1
}
