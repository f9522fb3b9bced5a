import DatoCore
import Foundation

/// diffusers `DPMSolverMultistepScheduler` as DPM-Solver++ 2M (midpoint), with optional Karras sigmas,
/// `lower_order_final` and a final sigma of zero.
public final class DPMSolverMultistepScheduler: Scheduler {
    public let name = "DPMSolverMultistepScheduler"
    public let timesteps: [Float]
    public let initNoiseSigma: Float = 1
    let sigmas: [Float]
    let prediction: String
    let lowerOrderFinal: Bool
    let finalZero: Bool
    private var previous: Tensor?
    private var lowerOrderNums = 0

    public init(config c: SchedulerConfig, steps: Int) throws {
        let schedule = try NoiseSchedule(config: c)
        prediction = try LatentMath.predictionType(c)
        guard (c.algorithmType ?? "dpmsolver++") == "dpmsolver++" else {
            throw SchedulerError(field: "algorithm_type", message: "only 'dpmsolver++' is supported")
        }
        guard (c.solverOrder ?? 2) == 2 else { throw SchedulerError(field: "solver_order", message: "only 2 is supported") }
        guard (c.solverType ?? "midpoint") == "midpoint" else { throw SchedulerError(field: "solver_type", message: "only 'midpoint' is supported") }
        guard !(c.eulerAtFinal ?? false) else { throw SchedulerError(field: "euler_at_final", message: "is not supported") }
        let t = schedule.trainSteps
        var ts: [Double]
        switch c.timestepSpacing ?? "linspace" {
        case "linspace":
            ts = Array(NoiseSchedule.npLinspace(0, Double(t - 1), steps + 1).map { $0.rounded(.toNearestOrEven) }.reversed().dropLast())
        case "leading":
            let ratio = t / (steps + 1)
            ts = Array((0...steps).reversed().map { Double($0 * ratio) }.dropLast()).map { $0 + Double(c.stepsOffset ?? 0) }
        case "trailing":
            ts = NoiseSchedule.npArangeDown(Double(t), 0, -Double(t) / Double(steps)).map { $0.rounded(.toNearestOrEven) - 1 }
        case let other:
            throw SchedulerError(field: "timestep_spacing", message: "'\(other)' is not supported (linspace, leading, trailing)")
        }
        try schedule.check(timesteps: ts, steps: steps, spacing: c.timestepSpacing ?? "linspace", offset: c.stepsOffset ?? 0,
                           decreasing: true)
        let base = schedule.sigmas
        var sig: [Double]
        if c.useKarrasSigmas ?? false {
            let logSigmas = base.map { Foundation.log($0) }
            sig = NoiseSchedule.karras(min: Double(base[0]), max: Double(base[base.count - 1]), steps: steps)
            ts = sig.map { NoiseSchedule.sigmaToT($0, logSigmas: logSigmas).rounded(.toNearestOrEven) }
        } else {
            sig = ts.map { NoiseSchedule.interp($0, base) }
        }
        let finalType = c.finalSigmasType ?? "zero"
        guard ["zero", "sigma_min"].contains(finalType) else {
            throw SchedulerError(field: "final_sigmas_type", message: "'\(finalType)' is not supported")
        }
        finalZero = finalType == "zero"
        sigmas = sig.map { Float($0) } + [finalZero ? 0 : base[0]]
        timesteps = ts.map { Float($0) }
        lowerOrderFinal = c.lowerOrderFinal ?? true
    }

    private func alphaSigma(_ s: Float) -> (Float, Float) {
        let a = 1 / (s * s + 1).squareRoot()
        return (a, s * a)
    }

    public func step(_ out: Tensor, call k: Int, sample: Tensor, noise: inout TorchGenerator) throws -> Tensor {
        let n = timesteps.count
        let lastOrderOne = k == n - 1 && ((lowerOrderFinal && n < 15) || finalZero)
        let (alphaS0, sigmaS0) = alphaSigma(sigmas[k])
        let x0 = prediction == "epsilon"
            ? LatentMath.map(sample, out) { ($0 - sigmaS0 * $1) / alphaS0 }
            : LatentMath.map(sample, out) { alphaS0 * $0 - sigmaS0 * $1 }
        let (alphaT, sigmaT) = alphaSigma(sigmas[k + 1])
        let lambdaT = Foundation.log(alphaT) - Foundation.log(sigmaT)
        let lambdaS0 = Foundation.log(alphaS0) - Foundation.log(sigmaS0)
        let h = lambdaT - lambdaS0
        let expm = Foundation.exp(-h) - 1
        let result: Tensor
        if lowerOrderNums < 1 || lastOrderOne || previous == nil {
            result = LatentMath.map(sample, x0) { (sigmaT / sigmaS0) * $0 - (alphaT * expm) * $1 }
        } else {
            let (alphaS1, sigmaS1) = alphaSigma(sigmas[k - 1])
            let lambdaS1 = Foundation.log(alphaS1) - Foundation.log(sigmaS1)
            let r0 = (lambdaS0 - lambdaS1) / h
            let m1 = previous ?? x0
            let d1 = LatentMath.map(x0, m1) { (1 / r0) * ($0 - $1) }
            let combined = LatentMath.map(sample, x0) { (sigmaT / sigmaS0) * $0 - (alphaT * expm) * $1 }
            result = LatentMath.map(combined, d1) { $0 - 0.5 * (alphaT * expm) * $1 }
        }
        previous = x0
        if lowerOrderNums < 2 { lowerOrderNums += 1 }
        return result
    }
}
