import DatoCore
import Foundation

/// The compute switches the `dato` command takes from its environment: the one place that reads environment
/// variables (the library reads none; its `ComputeSettings` default to what the CPU can do). Each variable set to
/// "0" turns its feature off in the settings the command gives the models; any other value, or none, keeps the
/// default.
///
/// - `DATO_WINOGRAD=0`: fp32 3x3 convolutions with the direct algorithm (as `--conv-direct`).
/// - `DATO_AMX=0`: none of swift-dato's own AMX kernels (bf16 attention, convolutions and linear layers, the
///   similarity estimates of the nearest-token searches); oneDNN or one fp32 product runs them instead.
/// - `DATO_AMX_CONV=0`: only the convolutions and linear layers leave the AMX kernel (for oneDNN's).
/// - `DATO_AVX512=0`: the fp32 attention on oneDNN's products with the portable softmax instead of swift-dato's
///   AVX-512 kernel, oneDNN's products instead of the AVX512-BF16 kernel in the bf16 attention, and oneDNN's direct bf16 3x3 convolutions instead of
///   the AVX512-BF16 Winograd kernel.
/// - `DATO_BF16_WINOGRAD=0`: only the bf16 3x3 convolutions leave the Winograd kernel (for oneDNN's direct ones).
/// - `DATO_FP32_WINOGRAD=0`: the fp32 3x3 convolutions below 16x16 pixels leave swift-dato's Winograd kernel (for
///   oneDNN's direct ones; `DATO_AVX512=0` does this too).
struct ComputeEnvironment: Equatable {
    /// The variables read, for help texts.
    static let variables = ["DATO_WINOGRAD", "DATO_AMX", "DATO_AMX_CONV", "DATO_AVX512", "DATO_BF16_WINOGRAD",
                            "DATO_FP32_WINOGRAD"]

    /// Winograd kernels for fp32 3x3 convolutions allowed.
    var winograd = true
    /// swift-dato's AMX kernels allowed (attention, convolutions, nearest-token estimates).
    var amx = true
    /// The AMX convolution and linear-layer kernel allowed (with `amx`).
    var amxConvolution = true
    /// The AVX-512 fp32 attention kernel and softmax and the AVX512-BF16 attention kernel allowed.
    var avx512 = true
    /// The AVX512-BF16 Winograd kernel of bf16 3x3 convolutions allowed (with `avx512`).
    var bf16Winograd = true
    /// swift-dato's fp32 Winograd kernel of small fp32 3x3 convolutions allowed (with `avx512`).
    var fp32Winograd = true

    /// The switches as `environment` sets them.
    init(_ environment: [String: String]) {
        func on(_ name: String) -> Bool { environment[name] != "0" }
        winograd = on("DATO_WINOGRAD")
        amx = on("DATO_AMX")
        amxConvolution = on("DATO_AMX_CONV")
        avx512 = on("DATO_AVX512")
        bf16Winograd = on("DATO_BF16_WINOGRAD")
        fp32Winograd = on("DATO_FP32_WINOGRAD")
    }

    /// The library's defaults (no variable set).
    init() {}

    /// The switches of this process's environment.
    static var current: ComputeEnvironment { ComputeEnvironment(ProcessInfo.processInfo.environment) }

    /// `settings` with the features these switches turn off turned off (never turns one on).
    func applied(to settings: ComputeSettings) -> ComputeSettings {
        var s = settings
        if !winograd { s.convolution = .direct }
        if !amx {
            s.amxAttention = false
            s.similarity.bf16Estimate = false
        }
        if !amx || !amxConvolution { s.amxMatrixKernels = false }
        if !avx512 {
            s.fp32AttentionKernel = false
            s.softmax = .portable
            s.bf16DotAttention = false
        }
        if !avx512 || !bf16Winograd { s.bf16Winograd = false }
        if !avx512 || !fp32Winograd { s.fp32Winograd = false }
        return s
    }

    /// One line per variable, for the `dato` command's help.
    static let help = """
        Environment: DATO_WINOGRAD=0 runs fp32 3x3 convolutions with the direct algorithm (as --conv-direct); \
        DATO_AMX=0 turns swift-dato's AMX kernels off (bf16 attention, convolutions and linear layers, the \
        nearest-token estimates); DATO_AMX_CONV=0 only the AMX convolutions and linear layers; DATO_AVX512=0 \
        the AVX-512 kernels of the fp32 attention, softmax and small fp32 Winograd 3x3 convolutions and the \
        AVX512-BF16 kernels (bf16 attention, bf16 Winograd 3x3 convolutions); DATO_BF16_WINOGRAD=0 only the bf16 \
        Winograd convolutions; DATO_FP32_WINOGRAD=0 only the fp32 Winograd convolutions below 16x16 pixels. Hashes of \
        weights files are cached in $XDG_CACHE_HOME/swift-dato (else ~/.cache/swift-dato).
        """
}

/// Where the `dato` command keeps what it may recompute (digests of weights files, `FileDigest`), after the
/// XDG base directory rules: `$XDG_CACHE_HOME/swift-dato` when that is an absolute path, else
/// `$HOME/.cache/swift-dato`.
enum CacheDirectory {
    /// The folder `environment` names; nil without an absolute XDG_CACHE_HOME or HOME (then nothing is cached).
    static func of(_ environment: [String: String]) -> URL? {
        func absolute(_ name: String) -> URL? {
            guard let value = environment[name], value.hasPrefix("/") else { return nil }
            return URL(fileURLWithPath: value, isDirectory: true)
        }
        let base = absolute("XDG_CACHE_HOME") ?? absolute("HOME")?.appendingPathComponent(".cache", isDirectory: true)
        return base?.appendingPathComponent("swift-dato", isDirectory: true)
    }

    /// The folder this process's environment names.
    static var current: URL? { of(ProcessInfo.processInfo.environment) }
}
