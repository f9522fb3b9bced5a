import ArgumentParser
import DatoAccel
import DatoCore
import DatoModels
import Foundation

/// `dato bench unet`: one UNet call of the SD 1.5 (or SD 2.1) architecture with random weights.
struct BenchUNet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unet",
        abstract: "Time one SD 1.5 or SD 2.1 UNet call (random weights): median of repeats after warm-up, peak memory."
    )

    @Option(help: "UNet architecture: sd15 or sd21 (SD 2.1: 64-wide heads, 1024-wide text states, linear projections).")
    var architecture: BenchArchitecture = .sd15
    @Option(help: "Latent side (64 = 512 px; SD 2.1's native size is 96 = 768 px).") var latent = 64
    @Option(help: "Batch size (2 = classifier-free guidance).") var batch = 2
    @Option(help: "Timed repeats.") var repeats = 5
    @Option(help: "Untimed warm-up calls.") var warmup = 1
    @OptionGroup var threadOptions: ThreadOptions
    @Option(help: "Plan depth of the timed calls (12 full; 1...11 partial after a full call filled the cache).") var depth = 12
    @Option(help: "Token pruning for the timed calls, e.g. dato:0.4, tome:0.5, atedm:0.6,temporal.") var prune: String?
    @OptionGroup var compute: PrecisionOptions
    var precision: Precision { compute.precision }
    @Flag(help: "Print the time per operation kind.") var profile = false
    @Flag(help: "Print the time per operation shape (convolutions, linear layers, attention), largest first.")
    var profileShapes = false
    @Flag(help: "Also measure this machine's peak in the same precision (best dense 4096^3 product through oneDNN) and print the fraction of it the call reaches.")
    var peak = false
    @Flag(help: "Print one machine-readable JSON line at the end.") var json = false
    @Flag(help: "After the warm-up, wait for a line on standard input before each timed call and after the last (for benchmarks that interleave these calls with another program's).")
    var stepped = false

    func validate() throws {
        guard latent >= 8, latent <= 256 else { throw ValidationError("--latent must be in 8...256") }
        guard batch >= 1, batch <= 16 else { throw ValidationError("--batch must be in 1...16") }
        guard repeats >= 1, warmup >= 0 else { throw ValidationError("--repeats must be >= 1 and --warmup >= 0") }
        guard (1...12).contains(depth) else { throw ValidationError("--depth must be in 1...12") }
        try checkArguments {
            try ArgumentCheck.integer(repeats, "--repeats", in: 1...1000)
            try ArgumentCheck.integer(warmup, "--warmup", in: 0...1000)
            do { _ = try prune.map { try PlanPresets.pruningSpec($0) } } catch { throw ArgumentError("--prune", "\(error)") }
        }
    }

    func run() throws {
        threadOptions.apply()
        let config = architecture.unetConfig
        let t0 = Date()
        let profiler = profile || profileShapes ? Profiler(byShape: profileShapes) : nil
        let settings = compute.settings(profiler: profiler)
        let unet = try RandomUNet.make(compute: settings, config: config)
        print(String(format: "%@ UNet, random weights, built in %.1f s; latent %dx%d, batch %d, %d threads, %@",
                     architecture.title, Date().timeIntervalSince(t0), latent, latent, batch, Parallel.threadCount,
                     ConvolutionOptions.describe(settings)))
        let (times, out) = try timeCalls(of: try acceleratedRun(unet), config: config, profiler: profiler)
        guard let out, out.allFinite else { throw ValidationError("UNet output is not finite") }
        try report(times, config: config, settings: settings)
    }

    /// The run the calls go through: a full first call, then `--depth` calls pruned as `--prune` asks.
    func acceleratedRun(_ unet: UNet2DConditionModel) throws -> AcceleratedUNet {
        let calls = 1 + warmup + repeats
        var method = PruningMethod.none, ratios: [Float] = []
        if let prune {
            let (m, r) = try PlanPresets.pruningSpec(prune)
            method = m
            ratios = Array(repeating: Float(r ?? m.defaultRatio), count: calls)
        }
        let plan = try AccelerationPlan(depths: [12] + Array(repeating: depth, count: calls - 1), ratios: ratios, pruning: method)
        return AcceleratedUNet(unet: unet, plan: plan, steps: calls, cfg: batch % 2 == 0, seed: 1)
    }

    /// The warm-up calls, then the timed ones (each after a line on standard input with `--stepped`; `profiler`
    /// cleared before them); their times and the last output.
    func timeCalls(of run: AcceleratedUNet, config: UNetConfig, profiler: Profiler?) throws -> ([Double], Tensor?) {
        let sample = try RandomSource(seed: 1).load("sample", shape: [batch, latent, latent, config.inChannels])
        let context = try RandomSource(seed: 2).load("context", shape: [batch, 77, config.crossAttentionDim])
        let timesteps = [Float](repeating: 500, count: batch)
        let calls = 1 + warmup + repeats
        func call(_ k: Int) throws -> Tensor { try run(call: k, sample, timesteps: timesteps, context: context) }
        _ = try call(0)   // fills the cache (and warms up)
        for k in 1...max(1, warmup) where k < calls - repeats { _ = try call(k) }
        var times: [Double] = []
        profiler?.reset()
        var out: Tensor?
        if stepped { print("ready: one timed call per line on standard input"); fflush(stdout) }
        for i in 0..<repeats {
            if stepped && readLine() == nil { throw ValidationError("standard input closed after \(i) of \(repeats) calls") }
            let s = Date()
            out = try call(calls - repeats + i)
            times.append(Date().timeIntervalSince(s))
            print(String(format: "  call %d: %.3f s", i + 1, times.last ?? 0))
            if stepped { fflush(stdout) }
        }
        if stepped { _ = readLine() }   // the other program's last call runs undisturbed: go on at a line or EOF
        return (times, out)
    }

    /// Median and minimum, GFLOP/s, memory, the machine's peak with `--peak`, the profiles, the JSON line.
    func report(_ times: [Double], config: UNetConfig, settings: ComputeSettings) throws {
        let sorted = times.sorted()
        let median = sorted[sorted.count / 2]
        let rss = PeakMemory.residentBytes()
        // Multiply-accumulates as counted by UNetCost (the full call: 402 GMAC per row at 64x64).
        let flops = 2 * UNetCost(config: config, height: latent, width: latent).macs(depth: depth) * Double(batch)
        let gflops = flops / median / 1e9
        print(String(format: "median %.3f s, min %.3f s; %.0f GFLOP, %.0f GFLOP/s; peak resident memory %.2f GiB (%.2f GiB now)",
                     median, sorted[0], flops / 1e9, gflops, Double(rss) / 1_073_741_824,
                     Double(PeakMemory.currentBytes() ?? 0) / 1_073_741_824))
        var peakGflops: Double?
        if peak {
            let best = try GEMMPeak.measure(compute: settings.with(precision: precision))
            peakGflops = best
            print(String(format: "machine peak (dense 4096^3 product, %@): %.0f GFLOP/s; this call reaches %.0f%% of it",
                         precision.rawValue, best, 100 * gflops / best))
        }
        if let profiler = settings.profiler {
            ProfileReport(kinds: profile, shapes: profileShapes, calls: repeats).print(profiler, timed: times.reduce(0, +))
        }
        if json {
            let peakField = peakGflops.map { ", \"peak_gflops\": \($0)" } ?? ""
            print("{\"architecture\": \"\(architecture.rawValue)\", \"median_s\": \(median), \"min_s\": \(sorted[0]), \"gflops\": \(gflops), \"peak_rss_bytes\": \(rss), "
                  + "\"threads\": \(Parallel.threadCount), \"precision\": \"\(precision.rawValue)\", "
                  + "\"convolution\": \"\(ConvolutionOptions.algorithm(settings))\"\(peakField)}")
        }
    }
}

/// The best throughput of a large dense product (4096 x 4096 x 4096 through `Linear`, oneDNN), the figure
/// "fraction of peak" refers to: what this machine's vector units reach on the easiest possible work.
enum GEMMPeak {
    static func measure(compute: ComputeSettings, repeats: Int = 3) throws -> Double {
        let n = 4096
        let source = RandomSource(seed: 3)
        var unmeasured = compute
        unmeasured.profiler = nil
        let layer = try Linear(weight: source.load("w", shape: [n, n]), bias: nil, compute: unmeasured)
        let x = try source.load("x", shape: [n, n])
        _ = try layer(x)
        var best = Double.infinity
        for _ in 0..<repeats {
            let s = Date()
            _ = try layer(x)
            best = min(best, Date().timeIntervalSince(s))
        }
        return 2 * Double(n * n * n) / best / 1e9
    }
}

/// Peak resident set size of this process.
enum PeakMemory {
    static func residentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }

    /// Resident set size now (Linux: /proc/self/statm), or nil where unavailable.
    static func currentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
