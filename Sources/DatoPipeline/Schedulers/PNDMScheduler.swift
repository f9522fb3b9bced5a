import DatoCore

/// diffusers `PNDMScheduler` in PLMS mode (`skip_prk_steps`): a linear multistep method that makes
/// steps + 1 UNet calls, the second timestep twice (981, 961, 961, ...: docs/methods/caching.md, "Calls and steps").
public final class PNDMScheduler: Scheduler {
    public let name = "PNDMScheduler"
    public let timesteps: [Float]
    public let initNoiseSigma: Float = 1
    let schedule: NoiseSchedule
    let finalAlphaCumprod: Float
    let prediction: String
    let stepGap: Int
    let ts: [Int]
    private var ets: [Tensor] = []
    private var counter = 0
    private var curSample: Tensor?

    public init(config c: SchedulerConfig, steps: Int) throws {
        schedule = try NoiseSchedule(config: c)
        try schedule.check(steps: steps)
        guard c.skipPrkSteps ?? false else {
            throw SchedulerError(field: "skip_prk_steps", message: "must be true: only PNDM's PLMS mode is supported")
        }
        prediction = try LatentMath.predictionType(c)
        let ascending = Array(try schedule.discreteTimesteps(steps: steps, spacing: c.timestepSpacing ?? "leading",
                                                             offset: c.stepsOffset ?? 0).reversed())
        // diffusers: concat(t[:-1], t[-2:-1], t[-1:]) reversed, i.e. the second-largest timestep twice.
        var plms = Array(ascending.dropLast())
        if ascending.count >= 2 { plms.append(ascending[ascending.count - 2]) }
        plms.append(ascending[ascending.count - 1])
        ts = plms.reversed()
        timesteps = ts.map(Float.init)
        finalAlphaCumprod = (c.setAlphaToOne ?? false) ? 1 : schedule.alphasCumprod[0]
        stepGap = schedule.trainSteps / steps
        // The warm-start call looks one gap above the second timestep (diffusers' PLMS): it too must index the
        // schedule (every spacing rule keeps it at or below the first timestep; checked, not assumed).
        if ts.count >= 2, ts[1] + stepGap >= schedule.trainSteps {
            throw SchedulerError(field: "steps", message: "\(steps) steps reach past the \(schedule.trainSteps) training steps; use fewer")
        }
    }

    /// Calls 1 and 2 share timestep 961 (the warm-start call belongs to the second distinct timestep).
    public func stepIndex(ofCall k: Int) -> Int { k == 0 ? 0 : max(1, k - 1) }

    public func step(_ out: Tensor, call k: Int, sample: Tensor, noise: inout TorchGenerator) throws -> Tensor {
        var timestep = ts[k]
        var prevTimestep = timestep - stepGap
        var sample = sample
        if counter != 1 {
            ets = Array(ets.suffix(3))
            ets.append(out)
        } else {
            prevTimestep = timestep
            timestep += stepGap
        }
        let m: Tensor
        if ets.count == 1 && counter == 0 {
            m = out
            curSample = sample
        } else if ets.count == 1 && counter == 1 {
            m = LatentMath.map(out, ets[0]) { ($0 + $1) / 2 }
            sample = curSample ?? sample
            curSample = nil
        } else if ets.count == 2 {
            m = LatentMath.map(ets[1], ets[0]) { (3 * $0 - $1) / 2 }
        } else if ets.count == 3 {
            let e1 = ets[2], e2 = ets[1], e3 = ets[0]
            m = Tensor(shape: out.shape, values: (0..<out.count).map { (23 * e1[$0] - 16 * e2[$0] + 5 * e3[$0]) / 12 })
        } else {
            let e1 = ets[3], e2 = ets[2], e3 = ets[1], e4 = ets[0]
            m = Tensor(shape: out.shape, values: (0..<out.count).map {
                (1.0 / 24) * (55 * e1[$0] - 59 * e2[$0] + 37 * e3[$0] - 9 * e4[$0])
            })
        }
        counter += 1
        return previousSample(sample, timestep, prevTimestep, m)
    }

    private func previousSample(_ sample: Tensor, _ t: Int, _ prev: Int, _ output: Tensor) -> Tensor {
        let at = schedule.alphasCumprod[t]
        let aPrev = schedule.alphaCumprod(prev, final: finalAlphaCumprod)
        let bt = 1 - at, bPrev = 1 - aPrev
        var eps = output
        if prediction == "v_prediction" {
            eps = LatentMath.map(output, sample) { at.squareRoot() * $0 + bt.squareRoot() * $1 }
        }
        let sampleCoeff = (aPrev / at).squareRoot()
        let denom = at * bPrev.squareRoot() + (at * bt * aPrev).squareRoot()
        return LatentMath.map(sample, eps) { sampleCoeff * $0 - (aPrev - at) * $1 / denom }
    }
}
