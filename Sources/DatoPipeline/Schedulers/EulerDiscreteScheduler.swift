import DatoCore
import Foundation

/// Timesteps and sigmas of the Karras-style (k-diffusion) samplers, as diffusers' Euler schedulers
/// compute them: float timesteps, sigmas interpolated at them, optional Karras sigmas, and a final 0.
struct SigmaSchedule {
    let timesteps: [Float]
    let sigmas: [Float]   // steps + 1, ending with 0

    init(schedule: NoiseSchedule, config c: SchedulerConfig, steps: Int, karras: Bool) throws {
        let t = schedule.trainSteps
        var ts: [Double]
        switch c.timestepSpacing ?? "linspace" {
        case "linspace":
            ts = NoiseSchedule.npLinspace(0, Double(t - 1), steps).map { Double(Float($0)) }.reversed()
        case "leading":
            let ratio = t / steps
            ts = (0..<steps).reversed().map { Double($0 * ratio + (c.stepsOffset ?? 0)) }
        case "trailing":
            ts = NoiseSchedule.npArangeDown(Double(t), 0, -Double(t) / Double(steps)).map { $0.rounded(.toNearestOrEven) - 1 }
        case let other:
            throw SchedulerError(field: "timestep_spacing", message: "'\(other)' is not supported (linspace, leading, trailing)")
        }
        try schedule.check(timesteps: ts, steps: steps, spacing: c.timestepSpacing ?? "linspace", offset: c.stepsOffset ?? 0)
        guard (c.interpolationType ?? "linear") == "linear" else {
            throw SchedulerError(field: "interpolation_type", message: "only 'linear' is supported")
        }
        let base = schedule.sigmas
        var sig = ts.map { NoiseSchedule.interp($0, base) }
        if karras {
            let logSigmas = base.map { Foundation.log($0) }
            sig = NoiseSchedule.karras(min: sig[sig.count - 1], max: sig[0], steps: steps)
            ts = sig.map { NoiseSchedule.sigmaToT($0, logSigmas: logSigmas) }
        }
        let last: Float
        switch c.finalSigmasType ?? "zero" {
        case "zero": last = 0
        case "sigma_min": last = base[0]
        case let other: throw SchedulerError(field: "final_sigmas_type", message: "'\(other)' is not supported")
        }
        timesteps = ts.map { Float($0) }
        sigmas = sig.map { Float($0) } + [last]
    }

    /// Initial noise scale: the largest sigma, or sqrt(max^2 + 1) for leading spacing.
    func initNoiseSigma(spacing: String) -> Float {
        let m = sigmas.max() ?? 1
        return ["linspace", "trailing"].contains(spacing) ? m : (m * m + 1).squareRoot()
    }

    /// The denoised estimate x0 at step k from an epsilon or v prediction.
    func originalSample(_ sample: Tensor, _ out: Tensor, step k: Int, prediction: String) -> Tensor {
        let sigma = sigmas[k]
        if prediction == "epsilon" { return LatentMath.map(sample, out) { $0 - sigma * $1 } }
        let a = -sigma / (sigma * sigma + 1).squareRoot(), b = sigma * sigma + 1
        return LatentMath.map(out, sample) { $0 * a + $1 / b }
    }

    func scale(_ sample: Tensor, step k: Int) -> Tensor {
        let s = sigmas[k]
        let d = (s * s + 1).squareRoot()
        return LatentMath.map(sample) { $0 / d }
    }
}

/// diffusers `EulerDiscreteScheduler` (no churn, optional Karras sigmas) and, with `ancestral`,
/// `EulerAncestralDiscreteScheduler`: an Euler step to sigma_down plus fresh noise of sigma_up, drawn from
/// the generator at every step (the last one included, as diffusers does).
public final class EulerDiscreteScheduler: Scheduler {
    public let name: String
    public let timesteps: [Float]
    public let initNoiseSigma: Float
    let sigmas: SigmaSchedule
    let prediction: String
    let ancestral: Bool

    public init(config c: SchedulerConfig, steps: Int, ancestral: Bool = false) throws {
        let schedule = try NoiseSchedule(config: c)
        prediction = try LatentMath.predictionType(c)
        self.ancestral = ancestral
        name = ancestral ? "EulerAncestralDiscreteScheduler" : "EulerDiscreteScheduler"
        var config = c
        if ancestral {
            // The ancestral sampler has neither Karras sigmas nor a non-zero final sigma.
            config.useKarrasSigmas = false
            config.finalSigmasType = "zero"
        } else if let type = c.timestepType, type != "discrete" {
            throw SchedulerError(field: "timestep_type", message: "only 'discrete' is supported")
        }
        sigmas = try SigmaSchedule(schedule: schedule, config: config, steps: steps, karras: config.useKarrasSigmas ?? false)
        timesteps = sigmas.timesteps
        initNoiseSigma = sigmas.initNoiseSigma(spacing: c.timestepSpacing ?? "linspace")
    }

    public func scaleModelInput(_ sample: Tensor, call k: Int) -> Tensor { sigmas.scale(sample, step: k) }

    public func step(_ out: Tensor, call k: Int, sample: Tensor, noise: inout TorchGenerator) throws -> Tensor {
        let sigma = sigmas.sigmas[k], next = sigmas.sigmas[k + 1]
        let x0 = sigmas.originalSample(sample, out, step: k, prediction: prediction)
        guard ancestral else {
            let dt = next - sigma
            return LatentMath.map(sample, x0) { s, x in s + (s - x) / sigma * dt }
        }
        let up = (next * next * (sigma * sigma - next * next) / (sigma * sigma)).squareRoot()
        let down = (next * next - up * up).squareRoot()
        let dt = down - sigma
        let moved = LatentMath.map(sample, x0) { s, x in s + (s - x) / sigma * dt }
        let z = noise.randnNHWC(out.shape)
        return LatentMath.map(moved, z) { $0 + $1 * up }
    }
}
