import CDNNL
import COpenBLAS
import DatoCore
import Foundation

/// `-v`: what the engine runs on, and how it computes with `settings`.
enum SystemInfo {
    static func print(_ settings: ComputeSettings) {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("flags") }?
            .split(separator: " ").map(String.init) ?? []
        let interesting = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"]
        let model = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
        let v = dnnl_version().pointee
        Swift.print("CPU: \(model); features: \(interesting.filter(flags.contains).joined(separator: " "))")
        Swift.print("oneDNN \(v.major).\(v.minor).\(v.patch); OpenBLAS: \(String(cString: openblas_get_config()))")
        Swift.print("compute threads: \(Parallel.threadCount); fp32 3x3 convolutions: \(settings.convolution == .winograd ? "Winograd (from 16x16 px)" : "direct")")
        Swift.print("AMX kernels: attention \(settings.runsAMXAttention ? "on" : "off"), convolutions and linear layers "
                    + "\(settings.runsAMXMatrixKernels ? "on" : "off") (bf16 only); fp32 attention: "
                    + (settings.runsFP32AttentionKernel ? "AVX-512 kernel" : "GEMMs, \(settings.softmax.rawValue) softmax"))
        Swift.print("AVX512-BF16 attention: \(settings.runsBF16DotAttention ? "on" : "off") (bf16 only, without AMX)")
    }
}
