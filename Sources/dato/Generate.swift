import ArgumentParser
import DatoAccel
import DatoCore
import DatoImage
import DatoModels
import DatoPipeline
import Foundation

/// `dato generate`: text to image.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate images from a text prompt.",
        discussion: """
            The same model, prompt, seed, size, steps, guidance scale and scheduler give the same image as \
            diffusers' StableDiffusionPipeline with a CPU generator. The PNG carries the settings in an \
            AUTOMATIC1111-style 'parameters' text chunk.
            """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var promptOptions: PromptOptions

    @Option(help: "Denoising steps.")
    var steps = 50

    @Option(name: .customLong("cfg-scale"), parsing: .unconditional, help: "Classifier-free guidance scale, 0...100 (<= 1 disables the unconditional pass).")
    var cfgScale: Float = 7.5

    @Option(name: [.short, .customLong("seed")], parsing: .unconditional, help: "Random seed; negative or omitted picks one (always printed).")
    var seed: Int64?

    @Option(help: "Scheduler (default: the model's).")
    var scheduler: SchedulerKind?

    @Option(parsing: .unconditional, help: "DDIM eta, 0...1 (0 = deterministic).")
    var eta: Float = 0

    @Option(name: [.customShort("W"), .customLong("width")], help: "Width in pixels, a multiple of 8 (default: the model's native size).")
    var width: Int?

    @Option(name: [.customShort("H"), .customLong("height")], help: "Height in pixels, a multiple of 8 (default: the model's native size).")
    var height: Int?

    @Option(name: [.short, .customLong("batch-count")], help: "Images per prompt; image i uses seed + i.")
    var batchCount = 1

    @Option(name: [.short, .customLong("output")], help: "Output PNG. '%d' is replaced by the image number; without it, several images get -1, -2, ... before the extension.")
    var output = "output.png"

    @Option(help: ArgumentHelp("Acceleration plan: none, deepcache:N[,branch=B], deepcache:N,nonuniform,center=C,power=P, dato-reference; token pruning tome:R, dato:R, atedm:R (each with ,options), alone or after depths with + (dato-reference+dato:0.4); a compact plan (d:12,2*4,...;r:0.4*50;m:dato), JSON, or a JSON file.", valueName: "plan"))
    var accel: String?

    @OptionGroup var threadOptions: ThreadOptions

    @Flag(name: [.short, .customLong("verbose")], help: "Print system information (CPU features, library versions, threads).")
    var verbose = false

    @Flag(help: "Free the text encoder once the prompts are encoded (at most 32 prompts), to lower peak memory.")
    var releaseTextEncoder = false

    @Flag(help: "Decode images larger than the VAE's tile (512 px for SD 1.x) in overlapping tiles, as diffusers' enable_vae_tiling(): much less memory, slightly different pixels near the seams.")
    var vaeTiling = false

    func validate() throws {
        try Self.validateSampling(steps: steps, cfgScale: cfgScale, eta: eta)
        guard batchCount >= 1, batchCount <= 10000 else { throw ValidationError("--batch-count must be in 1...10000") }
        try checkArguments {
            try ArgumentCheck.imageSide(width, "-W/--width")
            try ArgumentCheck.imageSide(height, "-H/--height")
            if let accel { try PlanPresets.check(accel, steps: steps) }   // a bad plan fails before the model loads
        }
    }

    /// The library's checks of --steps, --cfg-scale and --eta, before any model is loaded.
    static func validateSampling(steps: Int, cfgScale: Float, eta: Float = 0) throws {
        var request = GenerationRequest(prompt: "")
        request.steps = steps
        request.guidanceScale = cfgScale
        request.eta = eta
        do {
            try request.validateSampling()
        } catch let PipelineError.invalidRequest(field, message) {
            throw ValidationError("--\(field) \(message)")
        }
    }

    func run() throws {
        threadOptions.apply()
        if verbose { SystemInfo.print(modelOptions.settings()) }
        let prompts = try promptOptions.prompts()
        try OutputNaming.check(output, total: prompts.count * batchCount)   // before minutes of compute
        let t0 = Date()
        let pipe = try modelOptions.load()
        let modelPath = try modelOptions.path()
        let hash = GenerationParameters.modelHash(path: modelPath, variant: modelOptions.variant, cacheDirectory: CacheDirectory.current)
        FileHandle.standardError.write(String(format: "loaded %@ in %.1f s\n", modelOptions.model ?? "the demo model", Date().timeIntervalSince(t0)))
        let kind = try scheduler ?? SchedulerKind(modelConfig: pipe.schedulerConfig)
        let native = pipe.nativeSize
        pipe.vaeTiling = vaeTiling
        if releaseTextEncoder {
            guard prompts.count <= 32 else { throw ValidationError("--release-text-encoder takes at most 32 prompts; got \(prompts.count)") }
            for text in prompts { _ = try pipe.encode(text) }   // all prompts first: the encoder goes after the first image
            _ = try pipe.encode(promptOptions.negativePrompt)
            pipe.releasesTextEncoder = true
        }
        let baseSeed: UInt64 = (seed.map { $0 < 0 ? nil : UInt64($0) } ?? nil) ?? UInt64.random(in: 0...UInt64(UInt32.max))
        let total = prompts.count * batchCount
        var index = 0
        for text in prompts {
            for i in 0..<batchCount {
                index += 1
                var request = GenerationRequest(prompt: text)
                request.negativePrompt = promptOptions.negativePrompt
                request.steps = steps
                request.guidanceScale = cfgScale
                request.seed = baseSeed &+ UInt64(i)
                request.scheduler = kind
                request.eta = eta
                request.width = width ?? native
                request.height = height ?? native
                request.plan = accel
                print("image \(index)/\(total): seed \(request.seed), \(request.width)x\(request.height), \(steps) steps, \(kind.rawValue), cfg \(cfgScale)")
                let bar = ProgressBar()
                let image: GeneratedImage
                do {
                    image = try pipe.generate(request) { p in
                        bar.update(done: p.call + 1, total: p.callCount, seconds: p.seconds)
                        return true
                    }
                } catch {
                    bar.finish()   // the error (e.g. a NaN at some step) goes on a line of its own
                    throw error
                }
                bar.finish()
                for w in pipe.warnings { FileHandle.standardError.write("warning: \(w)\n") }
                let path = OutputNaming.path(output, index: index, total: total)
                let accelerated = image.plan.depths.contains { $0 != AccelerationPlan.fullDepth } || image.plan.pruning.name != .none
                print(String(format: "plan %@ (%@): %.4g TFLOPs per image, %.3f of the full model (%.2fx fewer)",
                             accelerated ? image.plan.description : "none", image.plan.summary, 2 * image.macs / 1e12,
                             image.macs / image.fullMACs, image.fullMACs / max(image.macs, 1)))
                var extra = accelerated ? [("Accel", image.plan.description)] : []
                if modelOptions.precision != .fp32 { extra.append(("Precision", modelOptions.precision.rawValue)) }
                let params = GenerationParameters.text(request: request, sampler: kind, modelName: pipe.modelName,
                                                       modelHash: hash, extra: extra)
                try PNGWriter.write(pixels: image.pixels, width: image.width, height: image.height,
                                    text: [("parameters", params)], to: path)
                print(String(format: "wrote %@ (text %.2f s, denoising %.2f s = %.3f s/call, decode %.2f s)", path,
                             image.textSeconds, image.loopSeconds, image.loopSeconds / Double(max(image.callSeconds.count, 1)),
                             image.decodeSeconds))
            }
        }
    }
}
