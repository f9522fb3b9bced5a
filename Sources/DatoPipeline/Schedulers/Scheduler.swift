import DatoCore

/// A diffusion sampler that turns UNet outputs into the next latents, matching a diffusers scheduler.
///
/// The loop is: for each call k in 0..<timesteps.count, `input = scaleModelInput(latents, call: k)`,
/// `out = unet(input, timesteps[k])`, `latents = step(out, call: k, sample: latents, noise: &g)`.
public protocol Scheduler: AnyObject {
    /// diffusers' class name, e.g. "DDIMScheduler".
    var name: String { get }
    /// The UNet timestep of every call (PNDM repeats one, so it makes steps + 1 calls).
    var timesteps: [Float] { get }
    /// The scale of the initial noise.
    var initNoiseSigma: Float { get }
    /// The per-step entry of call k: the position of its timestep among the distinct timesteps.
    func stepIndex(ofCall k: Int) -> Int
    /// Scales the latents before the UNet sees them (identity for DDIM, PNDM and DPM-Solver).
    func scaleModelInput(_ sample: Tensor, call k: Int) -> Tensor
    /// Advances the latents after call k; ancestral samplers draw their noise from `noise`.
    func step(_ modelOutput: Tensor, call k: Int, sample: Tensor, noise: inout TorchGenerator) throws -> Tensor
}

extension Scheduler {
    /// Number of UNet calls in one run.
    public var callCount: Int { timesteps.count }
    public func stepIndex(ofCall k: Int) -> Int { k }
    public func scaleModelInput(_ sample: Tensor, call k: Int) -> Tensor { sample }
}

/// The schedulers `dato` offers, by their command-line names.
public enum SchedulerKind: String, CaseIterable, Sendable {
    case ddim, pndm, euler
    case eulerAncestral = "euler-a"
    case dpmpp2m = "dpm++2m"
    case dpmpp2mKarras = "dpm++2m-karras"

    /// The diffusers class behind each name.
    public var className: String {
        switch self {
        case .ddim: return "DDIMScheduler"
        case .pndm: return "PNDMScheduler"
        case .euler: return "EulerDiscreteScheduler"
        case .eulerAncestral: return "EulerAncestralDiscreteScheduler"
        case .dpmpp2m, .dpmpp2mKarras: return "DPMSolverMultistepScheduler"
        }
    }

    /// The model's own scheduler: the kind named in its config's `_class_name`. A class this engine does not
    /// implement, or none, is an error naming the file and the field (never a silent substitute); a request can
    /// still name a scheduler of its own (`--scheduler`), which uses the config's other values.
    public init(modelConfig config: SchedulerConfig) throws {
        guard let kind = SchedulerKind(config: config) else {
            let implemented = Set(Self.allCases.map(\.className)).sorted().joined(separator: ", ")
            let what = config.className.map { "'\($0)' is not implemented" } ?? "missing"
            throw SchedulerError(field: "_class_name",
                                 message: "\(what) (implemented: \(implemented)); choose a scheduler with --scheduler",
                                 file: config.source ?? "the scheduler config")
        }
        self = kind
    }

    /// Picks the kind named in a config's `_class_name` (Karras sigmas included).
    public init?(config: SchedulerConfig) {
        switch config.className {
        case "DDIMScheduler": self = .ddim
        case "PNDMScheduler": self = .pndm
        case "EulerDiscreteScheduler": self = .euler
        case "EulerAncestralDiscreteScheduler": self = .eulerAncestral
        case "DPMSolverMultistepScheduler": self = config.useKarrasSigmas == true ? .dpmpp2mKarras : .dpmpp2m
        default: return nil
        }
    }

    /// Builds the scheduler from a model's config (as diffusers' `from_config`), set to `steps` steps: at most
    /// num_train_timesteps (as diffusers requires), fewer for DPM-Solver (whose steps + 1 timesteps must be
    /// distinct), and few enough that every timestep lies in the training schedule. Errors about config values
    /// name the config's file.
    public func make(config: SchedulerConfig, steps: Int, eta: Float = 0) throws -> Scheduler {
        let trainSteps = config.numTrainTimesteps ?? 1000
        let most = self == .dpmpp2m || self == .dpmpp2mKarras ? trainSteps - 1 : trainSteps
        guard steps >= 1 else { throw SchedulerError(field: "steps", message: "must be at least 1") }
        guard steps <= most else {
            throw SchedulerError(field: "steps", message: "\(steps) is more than \(className) takes with num_train_timesteps \(trainSteps) (at most \(most))")
        }
        do {
            return try build(config: config, steps: steps, eta: eta)
        } catch var e as SchedulerError where e.file == nil && e.field != "steps" && e.field != "eta" {
            e.file = config.source
            throw e
        }
    }

    private func build(config: SchedulerConfig, steps: Int, eta: Float) throws -> Scheduler {
        var c = config
        if self == .dpmpp2mKarras { c.useKarrasSigmas = true }
        switch self {
        case .ddim: return try DDIMScheduler(config: c, steps: steps, eta: eta)
        case .pndm: return try PNDMScheduler(config: c, steps: steps)
        case .euler: return try EulerDiscreteScheduler(config: c, steps: steps)
        case .eulerAncestral: return try EulerDiscreteScheduler(config: c, steps: steps, ancestral: true)
        case .dpmpp2m, .dpmpp2mKarras: return try DPMSolverMultistepScheduler(config: c, steps: steps)
        }
    }
}

/// Element-wise arithmetic on latents (small tensors; clarity over speed).
enum LatentMath {
    static func map(_ a: Tensor, _ f: (Float) -> Float) -> Tensor {
        let out = Tensor(shape: a.shape, zeroed: false)
        for i in 0..<a.count { out[i] = f(a[i]) }
        return out
    }

    static func map(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.count == b.count)
        let out = Tensor(shape: a.shape, zeroed: false)
        for i in 0..<a.count { out[i] = f(a[i], b[i]) }
        return out
    }

    /// The prediction type a scheduler accepts.
    static func predictionType(_ c: SchedulerConfig, allowed: [String] = ["epsilon", "v_prediction"]) throws -> String {
        let p = c.predictionType ?? "epsilon"
        guard allowed.contains(p) else {
            throw SchedulerError(field: "prediction_type", message: "'\(p)' is not supported (\(allowed.joined(separator: ", ")))")
        }
        return p
    }
}

extension TorchGenerator {
    /// `torch.randn(shape)` for an NCHW shape, returned channels-last ([B, H, W, C]) like the latents.
    public mutating func randnNHWC(_ shape: [Int]) -> Tensor {
        precondition(shape.count == 4)
        let b = shape[0], h = shape[1], w = shape[2], c = shape[3]
        let values = randn(b * c * h * w)
        let out = Tensor(shape: shape, zeroed: false)
        for bi in 0..<b { for ci in 0..<c { for y in 0..<h { for x in 0..<w {
            out[((bi * h + y) * w + x) * c + ci] = values[((bi * c + ci) * h + y) * w + x]
        } } } }
        return out
    }
}
