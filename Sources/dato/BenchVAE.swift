import ArgumentParser
import DatoCore
import DatoModels
import Foundation

/// `dato bench vae`: one decode (latents to image) of the SD 1.5 VAE with random weights.
struct BenchVAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Time one SD 1.5 VAE decode (random weights; fp32 as in generation, or bf16): median of repeats, peak memory."
    )

    @Option(help: "Latent side (64 = 512 px).") var latent = 64
    @Option(help: "Timed repeats.") var repeats = 3
    @OptionGroup var threadOptions: ThreadOptions
    @Flag(help: "Decode in overlapping tiles (as --vae-tiling does).") var tiling = false
    @Option(help: "Decoder compute format: fp32 (as in generation) or bf16 (weights and layer inputs in bf16, fp32 accumulation; norms and softmax in fp32).")
    var precision: Precision = .fp32
    @OptionGroup var convolution: ConvolutionOptions
    @Flag(help: "Print the time per operation kind.") var profile = false
    @Flag(help: "Print the time per operation shape (convolutions, attention), largest first.")
    var profileShapes = false

    func validate() throws {
        guard latent >= 8, latent <= 256 else { throw ValidationError("--latent must be in 8...256") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be >= 1") }
        try checkArguments {
            try ArgumentCheck.integer(repeats, "--repeats", in: 1...1000)
        }
    }

    func run() throws {
        threadOptions.apply()
        let profiler = profile || profileShapes ? Profiler(byShape: profileShapes) : nil
        let compute = convolution.settings(precision, profiler: profiler)
        var config = VAEConfig()
        config.sampleSize = 512
        let params = Parameters(RandomSource(seed: 0))
        let vae = try Memory.withoutPooling { try AutoencoderKL(config: config, params: params.scope("", compute: compute)) }
        let side = latent * config.scaleFactor
        print("SD 1.5 VAE decoder, random weights; latent \(latent)x\(latent) -> \(side)x\(side) px, "
              + "\(Parallel.threadCount) threads, \(ConvolutionOptions.describe(compute))\(tiling ? ", tiled" : "")")
        let z = try RandomSource(seed: 1).load("z", shape: [1, latent, latent, config.latentChannels])
        func decode() throws -> Tensor { tiling ? try vae.tiledDecode(z) : try vae.decode(z) }
        let first = Date()
        _ = try decode()   // warm-up: primitives and weight layouts
        print(String(format: "  first decode (warm-up, not in the median: kernels made, weights laid out): %.3f s",
                     Date().timeIntervalSince(first)))
        profiler?.reset()
        var times: [Double] = []
        var image: Tensor?
        for i in 0..<repeats {
            let s = Date()
            image = try decode()
            times.append(Date().timeIntervalSince(s))
            print(String(format: "  decode %d: %.3f s", i + 1, times.last ?? 0))
        }
        guard let image, image.allFinite else { throw ValidationError("VAE output is not finite") }
        let sorted = times.sorted()
        print(String(format: "median %.3f s, min %.3f s; peak resident memory %.2f GiB",
                     sorted[sorted.count / 2], sorted[0], Double(PeakMemory.residentBytes()) / Double(1 << 30)))
        if let profiler {
            ProfileReport(kinds: profile, shapes: profileShapes, calls: repeats).print(profiler, timed: times.reduce(0, +))
        }
    }
}
