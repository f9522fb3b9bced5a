/// What to generate: one image per seed, as diffusers' `StableDiffusionPipeline.__call__` takes it.
public struct GenerationRequest: Sendable, Equatable {
    public var prompt: String
    public var negativePrompt: String = ""
    /// Image size in pixels; both must be positive multiples of 8.
    public var width: Int = 512
    public var height: Int = 512
    public var steps: Int = 50
    /// Classifier-free guidance scale, in `guidanceScaleRange`; at or below 1 the unconditional pass is skipped.
    public var guidanceScale: Float = 7.5
    public var seed: UInt64 = 0
    /// The sampler; nil means the one named by the model's scheduler config.
    public var scheduler: SchedulerKind? = nil
    /// DDIM's eta (0 = deterministic), in `etaRange`.
    public var eta: Float = 0
    /// Acceleration plan (a preset, compact string, JSON or file; see `PlanPresets`); nil runs every call in full.
    public var plan: String? = nil
    /// An acceleration plan already made (e.g. by a search), used instead of `plan` (give one of the two); it is
    /// checked against the run's UNet calls and steps and the model's units like a resolved `plan`.
    public var accelerationPlan: AccelerationPlan? = nil

    public init(prompt: String) { self.prompt = prompt }

    /// Denoising steps accepted.
    public static let stepsRange = 1...1000
    /// Guidance scales accepted: ComfyUI's 0...100 (AUTOMATIC1111's slider: 1...30). Far larger scales only
    /// amplify the difference of two noise predictions until it overflows.
    public static let guidanceScaleRange: ClosedRange<Float> = 0...100
    /// DDIM's eta: 0 (deterministic) ... 1 (DDPM-like), the range diffusers documents.
    public static let etaRange: ClosedRange<Float> = 0...1

    /// Checks sizes, counts and sampling settings, naming the bad field.
    public func validate() throws {
        for (name, v) in [("width", width), ("height", height)] where v <= 0 || v % 8 != 0 || v > 4096 {
            throw PipelineError.invalidRequest(field: name, message: "\(v) must be a positive multiple of 8 (at most 4096)")
        }
        try validateSampling()
    }

    /// Checks the sampling settings (steps, guidance scale, eta), which a front end can check before it loads a
    /// model.
    public func validateSampling() throws {
        let s = Self.stepsRange, g = Self.guidanceScaleRange, e = Self.etaRange
        guard s.contains(steps) else {
            throw PipelineError.invalidRequest(field: "steps", message: "\(steps) must be in \(s.lowerBound)...\(s.upperBound)")
        }
        guard guidanceScale.isFinite, g.contains(guidanceScale) else {
            throw PipelineError.invalidRequest(field: "cfg-scale", message: "\(guidanceScale) must be in \(g.lowerBound)...\(g.upperBound)")
        }
        guard eta.isFinite, e.contains(eta) else {
            throw PipelineError.invalidRequest(field: "eta", message: "\(eta) must be in \(e.lowerBound)...\(e.upperBound)")
        }
    }
}

import DatoAccel

/// Progress of a run, handed to the per-step callback.
public struct StepProgress: Sendable {
    /// UNet call index (0-based) and the number of calls.
    public let call: Int
    public let callCount: Int
    public let timestep: Float
    /// Latents after this call's scheduler step, [1, h, w, 4] channels-last.
    public let latents: Tensor
    /// Wall time of this call (UNet and scheduler), seconds.
    public let seconds: Double
}

/// A generated image with what produced it.
public struct GeneratedImage: Sendable {
    /// RGB bytes, row-major, `height x width x 3`.
    public let pixels: [UInt8]
    public let width: Int
    public let height: Int
    /// Final latents (before VAE scaling), [1, h, w, 4].
    public let latents: Tensor
    /// Decoded image in [-1, 1] before 8-bit conversion, [1, H, W, 3].
    public let decoded: Tensor
    public let request: GenerationRequest
    /// The scheduler actually used (diffusers class name).
    public let schedulerName: String
    /// Seconds per UNet call.
    public let callSeconds: [Double]
    /// Seconds spent on text encoding, the denoising loop and VAE decoding.
    public let textSeconds: Double, loopSeconds: Double, decodeSeconds: Double
    /// The resolved acceleration plan (all calls full when none was requested).
    public let plan: AccelerationPlan
    /// UNet multiply-accumulates of the run for one image (no CFG factor; docs/methods/caching.md, "Cost"), and of
    /// the same run without acceleration.
    public let macs: Double, fullMACs: Double
    /// Warnings about this generation's prompts (e.g. truncation), for the caller to show.
    public var warnings: [String] = []
}

import DatoCore

/// Errors of the text-to-image pipeline.
public enum PipelineError: Error, CustomStringConvertible {
    case invalidRequest(field: String, message: String)
    case cancelled
    /// A NaN or an infinity appeared at `stage` of a generation.
    case nonFinite(stage: GenerationStage, value: NonFiniteValue)

    public var description: String {
        switch self {
        case let .invalidRequest(field, message): return "invalid \(field): \(message)"
        case .cancelled: return "generation cancelled"
        case let .nonFinite(stage, value): return "\(stage) has \(value.rawValue): \(stage.likelyCause)"
        }
    }
}
