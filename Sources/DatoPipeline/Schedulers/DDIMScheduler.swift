import DatoCore

/// diffusers `DDIMScheduler` (deterministic for eta = 0; eta > 0 adds noise from the generator).
public final class DDIMScheduler: Scheduler {
    public let name = "DDIMScheduler"
    public let timesteps: [Float]
    public let initNoiseSigma: Float = 1
    let schedule: NoiseSchedule
    let finalAlphaCumprod: Float
    let prediction: String
    let stepGap: Int
    let eta: Float
    let clip: Float?
    let ts: [Int]

    public init(config c: SchedulerConfig, steps: Int, eta: Float = 0) throws {
        guard eta.isFinite, (0...1).contains(eta) else {
            throw SchedulerError(field: "eta", message: "\(eta) is outside 0...1 (0: deterministic DDIM, 1: DDPM-like)")
        }
        schedule = try NoiseSchedule(config: c)
        try schedule.check(steps: steps)
        if c.thresholding == true { throw SchedulerError(field: "thresholding", message: "is not supported") }
        prediction = try LatentMath.predictionType(c)
        ts = try schedule.discreteTimesteps(steps: steps, spacing: c.timestepSpacing ?? "leading", offset: c.stepsOffset ?? 0)
        timesteps = ts.map(Float.init)
        finalAlphaCumprod = (c.setAlphaToOne ?? true) ? 1 : schedule.alphasCumprod[0]
        stepGap = schedule.trainSteps / steps
        self.eta = eta
        clip = (c.clipSample ?? true) ? Float(c.clipSampleRange ?? 1) : nil
    }

    public func step(_ out: Tensor, call k: Int, sample: Tensor, noise: inout TorchGenerator) throws -> Tensor {
        let t = ts[k], prev = t - stepGap
        let at = schedule.alphasCumprod[t]
        let aPrev = schedule.alphaCumprod(prev, final: finalAlphaCumprod)
        let bt = 1 - at
        var x0: Tensor
        let eps: Tensor
        if prediction == "epsilon" {
            x0 = LatentMath.map(sample, out) { (s, e) in (s - bt.squareRoot() * e) / at.squareRoot() }
            eps = out
        } else {
            x0 = LatentMath.map(sample, out) { (s, v) in at.squareRoot() * s - bt.squareRoot() * v }
            eps = LatentMath.map(sample, out) { (s, v) in at.squareRoot() * v + bt.squareRoot() * s }
        }
        // clip_sample clamps the predicted original only; the direction keeps the unclipped epsilon.
        if let clip { x0 = LatentMath.map(x0) { min(max($0, -clip), clip) } }
        let bPrev = 1 - aPrev
        let variance = (bPrev / bt) * (1 - at / aPrev)
        let std = eta * variance.squareRoot()
        let dirCoeff = (1 - aPrev - std * std).squareRoot()
        var prevSample = LatentMath.map(x0, eps) { (x, e) in aPrev.squareRoot() * x + dirCoeff * e }
        if eta > 0 {
            let z = noise.randnNHWC(out.shape)
            prevSample = LatentMath.map(prevSample, z) { $0 + std * $1 }
        }
        return prevSample
    }
}
