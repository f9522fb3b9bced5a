import DatoAccel
import DatoCore
import DatoModels
import Foundation

/// Text to image with SD 1.x, step for step as diffusers' `StableDiffusionPipeline` with a CPU generator:
/// the same prompt, seed and scheduler give the same latents and image.
///
/// `generate` may be called from several threads at once: each run keeps its state to itself (its own
/// `AcceleratedUNet`), and the pipeline's own records (text states, warnings, the text encoder) are guarded.
public final class StableDiffusionPipeline: @unchecked Sendable {
    public var models: StableDiffusionModels {
        lock.lock(); defer { lock.unlock() }
        return loadedModels
    }
    private var loadedModels: StableDiffusionModels
    /// Guards `loadedModels`, `encoded` and `lastWarnings`; held while a prompt is encoded.
    private let lock = NSLock()
    public let tokenizer: CLIPTokenizer
    public let schedulerConfig: SchedulerConfig
    /// A short name for the model (folder or file name), recorded in image metadata.
    public let modelName: String
    /// Warnings about the prompt(s) of the last generation finished or the last `encode` (e.g. truncation), for
    /// the caller to show. With generations running concurrently, read each one's `GeneratedImage.warnings`.
    public var warnings: [String] {
        lock.lock(); defer { lock.unlock() }
        return lastWarnings
    }
    private var lastWarnings: [String] = []
    /// When true, the text encoder is freed after a generation has encoded its prompts (later generations
    /// can reuse prompts already encoded, not encode new ones), as a memory saving for single runs.
    public var releasesTextEncoder = false
    /// When true, images larger than the VAE's tile (`sample_size`, 512 px for SD 1.x) are decoded in
    /// overlapping tiles, as diffusers' `enable_vae_tiling()`: far less memory for large images, with
    /// slightly different pixels near the seams.
    public var vaeTiling = false
    /// Text states of the prompts encoded so far, with their warnings.
    private var encoded: [String: (states: Tensor, warnings: [String])] = [:]

    public init(models: StableDiffusionModels, tokenizer: CLIPTokenizer, schedulerConfig: SchedulerConfig, modelName: String) {
        loadedModels = models
        self.tokenizer = tokenizer
        self.schedulerConfig = schedulerConfig
        self.modelName = modelName
    }

    /// Loads a diffusers folder or an original single-file `.safetensors` checkpoint. For a single file,
    /// `configFolder` (a diffusers folder whose weights are not needed) supplies the configs, tokenizer and
    /// scheduler config, as diffusers' `from_single_file(config=...)`; without it the architecture is
    /// inferred from the shapes, with the built-in tokenizer (padding as the family pads) and the family's
    /// scheduler config. `useEMA` loads
    /// the UNet's EMA weights when the file has them. `compute` says how the UNet computes (precision, kernels;
    /// the text encoder and the VAE always run in fp32 with the same kernels). `predictionType` (`--prediction-type`) overrides the scheduler
    /// config's; a single file without `configFolder` otherwise predicts what diffusers' rule says
    /// (`PredictionChoice.inferred`: SD 1.x epsilon, SD 2.x v unless it is SD 2.0 base). `variant` (diffusers'
    /// `variant=`, e.g. "fp16") chooses a diffusers folder's variant weights files; it does not apply to single files.
    public static func load(path: String, configFolder: String? = nil, useEMA: Bool = false,
                            compute: ComputeSettings = ComputeSettings(), predictionType: PredictionType? = nil,
                            variant: String? = nil) throws -> StableDiffusionPipeline {
        // Source tensors are freed as soon as the layers hold their own (bf16: converted) copies.
        let pipe = try Memory.withoutPooling {
            try loadModels(path: path, configFolder: configFolder, useEMA: useEMA, predictionType: predictionType,
                           variant: variant, compute: compute)
        }
        guard predictionType != nil else { return pipe }
        return StableDiffusionPipeline(models: pipe.models, tokenizer: pipe.tokenizer,
                                       schedulerConfig: SingleFileScheduler.overriding(pipe.schedulerConfig, with: predictionType),
                                       modelName: pipe.modelName)
    }

    private static func loadModels(path: String, configFolder: String?, useEMA: Bool,
                                   predictionType: PredictionType?, variant: String?,
                                   compute: ComputeSettings) throws -> StableDiffusionPipeline {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelError.layout(path: path, message: "no such model folder or file")
        }
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        if isDir.boolValue {
            let models = try StableDiffusionModels(diffusersFolder: path, variant: variant, compute: compute)
            return StableDiffusionPipeline(models: models, tokenizer: try CLIPTokenizer(folder: "\(path)/tokenizer"),
                                           schedulerConfig: try schedulerConfig(in: path), modelName: name)
        }
        guard [".safetensors", ".ckpt", ".pt", ".pth"].contains(where: { path.lowercased().hasSuffix($0) }) else {
            throw ModelError.layout(path: path, message: "expected a diffusers folder or a single-file checkpoint (.safetensors, .ckpt, .pt or .pth)")
        }
        if let variant {
            throw ModelError.input("variant '\(variant)' applies to the weights files of a diffusers folder; \(path) is a single file")
        }
        let configs = try configFolder.map { try StableDiffusionModels.Configs(diffusersFolder: $0) }
        let models = try StableDiffusionModels(singleFile: path, configs: configs, useEMA: useEMA, prediction: predictionType,
                                               compute: compute)
        var tokenizer = try CLIPTokenizer.builtin(specialTokens: models.singleFile?.family == .sd2 ? .sd2 : SpecialTokens())
        var scheduler = SingleFileScheduler.config(for: models.singleFile)
        if let dir = configFolder {
            if CLIPTokenizer.hasTokenizer(in: "\(dir)/tokenizer") { tokenizer = try CLIPTokenizer(folder: "\(dir)/tokenizer") }
            scheduler = try schedulerConfig(in: dir, otherwise: scheduler)
        }
        return StableDiffusionPipeline(models: models, tokenizer: tokenizer, schedulerConfig: scheduler, modelName: name)
    }

    /// `scheduler/scheduler_config.json` of a folder, else `fallback` (SD 1.x's unless given).
    static func schedulerConfig(in dir: String, otherwise fallback: SchedulerConfig = .sd15) throws -> SchedulerConfig {
        let path = "\(dir)/scheduler/scheduler_config.json"
        return FileManager.default.fileExists(atPath: path) ? try SchedulerConfig.load(path) : fallback
    }

    /// Text states [1, 77, D] for a prompt; truncation is recorded in `warnings`.
    public func encode(_ prompt: String) throws -> Tensor {
        let (states, notes) = try encodeRecorded(prompt)
        lock.lock(); defer { lock.unlock() }
        lastWarnings += notes
        return states
    }

    /// Text states [1, 77, D] for a prompt and the warnings about it, from the record of prompts encoded so far
    /// or encoded now (under the lock: one prompt is encoded at a time).
    func encodeRecorded(_ prompt: String) throws -> (states: Tensor, warnings: [String]) {
        lock.lock(); defer { lock.unlock() }
        if let known = encoded[prompt] { return known }
        let enc = tokenizer(prompt)
        var notes: [String] = []
        if let dropped = enc.truncatedText {
            notes.append("the prompt was truncated to \(tokenizer.maxLength - 2) tokens; dropped: \"\(dropped)\"")
        }
        let states = try loadedModels.textEncoder([enc.ids]).lastHiddenState
        try NonFiniteCheck.require(states, .textEncoder)
        if encoded.count >= 64 { encoded.removeAll() }   // a bound for long prompt lists (search, scoring)
        encoded[prompt] = (states, notes)
        return (states, notes)
    }

    /// Frees the text encoder (`releasesTextEncoder`).
    private func releaseTextEncoder() {
        lock.lock(); defer { lock.unlock() }
        loadedModels.releaseTextEncoder()
    }

    /// Pixels per latent cell (8 for SD 1.x; the demo model's VAE uses 4).
    public var vaeScaleFactor: Int { models.vae.config.scaleFactor }

    /// The model's native image side: the UNet's sample size times the VAE factor.
    public var nativeSize: Int { (models.unet.config.sampleSize ?? 64) * vaeScaleFactor }

    /// Runs the UNet once at the native size (batch 1, zero latents and text states) and the VAE decoder once at a
    /// small size, so that their layers make their kernels and lay out their weights now rather than in the first
    /// request. fp32 3x3 convolutions choose their kernel by the size of their first input (`Conv2D`): this lets
    /// the native size choose, not a server's first request. Returns the seconds it took.
    @discardableResult
    public func prepareKernels() throws -> Double {
        let start = Date()
        let unet = models.unet.config, side = nativeSize / vaeScaleFactor
        let sample = Tensor(shape: [1, side, side, unet.inChannels])
        let context = Tensor(shape: [1, tokenizer.maxLength, unet.crossAttentionDim])
        _ = try models.unet(sample, timesteps: [1], context: context)
        // 16x16 latents: every decoder convolution sees at least 256 pixels, as at the native size.
        let latent = min(side, 16)
        _ = try models.vae.decode(Tensor(shape: [1, latent, latent, models.vae.config.latentChannels]))
        return Date().timeIntervalSince(start)
    }

    /// Generates one image. `progress` is called after every UNet call; returning false cancels the run.
    public func generate(_ request: GenerationRequest, progress: ((StepProgress) -> Bool)? = nil) throws -> GeneratedImage {
        try request.validate()
        let models = self.models
        // Models built by hand (not loaded) too: the sampler combines the UNet's output with its input.
        var configs = StableDiffusionModels.Configs()
        configs.unet = models.unet.config
        configs.vae = models.vae.config
        configs.textEncoder.hiddenSize = configs.unet.crossAttentionDim   // the text states' width is checked by the UNet
        try configs.validateTogether()
        let f = vaeScaleFactor
        for (name, v) in [("width", request.width), ("height", request.height)] where v % f != 0 {
            throw PipelineError.invalidRequest(field: name, message: "\(v) must be a multiple of the VAE's factor \(f)")
        }
        let kind = try request.scheduler ?? SchedulerKind(modelConfig: schedulerConfig)
        let scheduler = try kind.make(config: schedulerConfig, steps: request.steps, eta: request.eta)
        let plan = try resolvePlan(request, calls: scheduler.callCount)
        let cfg = request.guidanceScale > 1
        // New per run: no state crosses runs. Pruning streams are seeded by the image seed.
        let unet = AcceleratedUNet(unet: models.unet, plan: plan, steps: request.steps, cfg: cfg, seed: request.seed)
        let t0 = Date()
        let (context, notes) = try encodeContext(request, cfg: cfg)
        let textSeconds = Date().timeIntervalSince(t0)
        if releasesTextEncoder { releaseTextEncoder() }
        let channels = models.unet.config.inChannels
        var generator = TorchGenerator(seed: request.seed)
        var latents = generator.randnNHWC([1, request.height / f, request.width / f, channels])
        let sigma = scheduler.initNoiseSigma
        if sigma != 1 { latents = LatentMath.map(latents) { $0 * sigma } }
        var callSeconds: [Double] = []
        let loopStart = Date()
        for k in 0..<scheduler.callCount {
            let s = Date()
            let input = scheduler.scaleModelInput(latents, call: k)
            let t = scheduler.timesteps[k]
            let unetIn = cfg ? Self.repeatBatch(input, 2) : input
            let step = scheduler.stepIndex(ofCall: k)
            let out = try unet(call: k, step: step, unetIn, timesteps: Array(repeating: t, count: unetIn.dim(0)),
                               context: context)
            try NonFiniteCheck.require(out, .unet(step: step + 1))
            let guided = cfg ? Self.guide(out, scale: request.guidanceScale) : out
            latents = try scheduler.step(guided, call: k, sample: latents, noise: &generator)
            try NonFiniteCheck.require(latents, .scheduler(step: step + 1))
            callSeconds.append(Date().timeIntervalSince(s))
            if let progress, !progress(StepProgress(call: k, callCount: scheduler.callCount, timestep: t,
                                                    latents: latents, seconds: callSeconds[k])) {
                throw PipelineError.cancelled
            }
        }
        let loopSeconds = Date().timeIntervalSince(loopStart)
        let d0 = Date()
        let factor = models.vae.config.scalingFactor
        let scaled = LatentMath.map(latents) { $0 / factor }
        let decoded = try vaeTiling ? models.vae.tiledDecode(scaled) : models.vae.decode(scaled)
        try NonFiniteCheck.require(decoded, .vaeDecoder)
        let pixels = Self.toBytes(decoded)
        var image = GeneratedImage(pixels: pixels, width: decoded.dim(2), height: decoded.dim(1), latents: latents,
                                   decoded: decoded, request: request, schedulerName: scheduler.name, callSeconds: callSeconds,
                                   textSeconds: textSeconds, loopSeconds: loopSeconds, decodeSeconds: Date().timeIntervalSince(d0),
                                   plan: plan, macs: unet.macs, fullMACs: unet.fullMACs)
        image.warnings = notes
        lock.lock(); lastWarnings = notes; lock.unlock()
        return image
    }

    /// The text states of the request's prompt, [uncond; cond] under guidance, and the warnings about them.
    private func encodeContext(_ request: GenerationRequest, cfg: Bool) throws -> (Tensor, [String]) {
        let cond = try encodeRecorded(request.prompt)
        guard cfg else { return (cond.states, cond.warnings) }
        let uncond = try encodeRecorded(request.negativePrompt)
        let (u, c) = (uncond.states, cond.states)
        let context = Tensor(shape: [2, c.dim(1), c.dim(2)], zeroed: false)
        context.data.update(from: u.data, count: u.count)
        (context.data + u.count).update(from: c.data, count: c.count)
        return (context, cond.warnings + uncond.warnings)
    }

    /// [x; x; ...] along the batch axis.
    static func repeatBatch(_ x: Tensor, _ n: Int) -> Tensor {
        var shape = x.shape
        shape[0] *= n
        let out = Tensor(shape: shape, zeroed: false)
        for i in 0..<n { (out.data + i * x.count).update(from: x.data, count: x.count) }
        return out
    }

    /// uncond + scale * (cond - uncond) from a [2, ...] prediction.
    static func guide(_ out: Tensor, scale: Float) -> Tensor {
        let half = out.count / 2
        var shape = out.shape
        shape[0] /= 2
        let g = Tensor(shape: shape, zeroed: false)
        for i in 0..<half {
            let u = out[i], c = out[half + i]
            g[i] = u + scale * (c - u)
        }
        return g
    }

    /// diffusers' postprocess: (x / 2 + 0.5) clamped to [0, 1], times 255, rounded (NaN-safe).
    static func toBytes(_ image: Tensor) -> [UInt8] {
        (0..<image.count).map { PixelConversion.byte(image[$0]) }
    }
}
