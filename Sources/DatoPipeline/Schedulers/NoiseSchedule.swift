import Foundation

/// The training noise schedule shared by all schedulers: betas and cumulative alpha products computed
/// in fp32 the way torch computes them (linspace in fp32, cumprod accumulated in double).
public struct NoiseSchedule: Sendable {
    public let trainSteps: Int
    /// alphas_cumprod[t] for t = 0..trainSteps-1 (fp32).
    public let alphasCumprod: [Float]

    public init(config c: SchedulerConfig, defaultBetaStart: Double = 0.0001, defaultBetaEnd: Double = 0.02,
                defaultSchedule: String = "linear") throws {
        try c.validate()
        trainSteps = c.numTrainTimesteps ?? 1000
        let start = c.betaStart ?? defaultBetaStart, end = c.betaEnd ?? defaultBetaEnd
        guard start <= end else {
            throw SchedulerError(field: c.betaEnd == nil ? "beta_start" : "beta_end",
                                 message: "beta_start \(start) is above beta_end \(end)", file: c.source)
        }
        var betas: [Float]
        if let trained = c.trainedBetas {
            guard trained.count == trainSteps else {
                throw SchedulerError(field: "trained_betas", message: "has \(trained.count) values for \(trainSteps) steps")
            }
            betas = trained.map { Float($0) }
        } else {
            switch c.betaSchedule ?? defaultSchedule {
            case "linear":
                betas = Self.linspace(Float(start), Float(end), trainSteps)
            case "scaled_linear":
                betas = Self.linspace(Float(start.squareRoot()), Float(end.squareRoot()), trainSteps).map { $0 * $0 }
            case let other:
                throw SchedulerError(field: "beta_schedule", message: "'\(other)' is not supported (use linear or scaled_linear)")
            }
        }
        if c.rescaleBetasZeroSnr == true {
            throw SchedulerError(field: "rescale_betas_zero_snr", message: "is not supported")
        }
        var acc = 1.0
        alphasCumprod = betas.map { b in
            acc *= Double(1 - b)
            return Float(acc)
        }
        // Every noise level sqrt((1 - abar) / abar) must be finite: abar (decreasing) stays a normal float.
        guard let last = alphasCumprod.last, last.isNormal, last < 1 else {
            throw SchedulerError(field: c.trainedBetas == nil ? "beta_end" : "trained_betas",
                                 message: "the cumulative signal level reaches \(alphasCumprod.last ?? 0) over \(trainSteps) steps: the betas are too large",
                                 file: c.source)
        }
    }

    /// torch.linspace in fp32: the first half counts up from start, the second half down from end.
    static func linspace(_ start: Float, _ end: Float, _ n: Int) -> [Float] {
        let step = (end - start) / Float(n - 1)
        let half = n / 2
        return (0..<n).map { i in i < half ? start + step * Float(i) : end - step * Float(n - i - 1) }
    }

    /// Rejects more inference steps than training steps.
    func check(steps: Int) throws {
        guard steps <= trainSteps else {
            throw SchedulerError(field: "steps", message: "\(steps) exceeds the \(trainSteps) training steps")
        }
    }

    /// alphas_cumprod at `t`, or `final` for the step past the start of the schedule (t < 0).
    func alphaCumprod(_ t: Int, final: Float) -> Float { t >= 0 ? alphasCumprod[t] : final }

    /// numpy.linspace in double.
    static func npLinspace(_ start: Double, _ stop: Double, _ n: Int) -> [Double] {
        guard n > 1 else { return n == 1 ? [start] : [] }
        let step = (stop - start) / Double(n - 1)
        var v = (0..<n).map { start + Double($0) * step }
        v[n - 1] = stop
        return v
    }

    /// numpy.arange(start, stop, step) for a negative step.
    static func npArangeDown(_ start: Double, _ stop: Double, _ step: Double) -> [Double] {
        let count = Int(((stop - start) / step).rounded(.up))
        return (0..<max(count, 0)).map { start + Double($0) * step }
    }

    /// The usual integer timesteps (descending) for `steps` inference steps under a spacing rule, each checked
    /// to lie in 0..<trainSteps (they index `alphasCumprod`). diffusers would read past the schedule for,
    /// e.g., 1000 'leading' steps with steps_offset 1; here such a request is refused, naming the most steps
    /// that fit.
    func discreteTimesteps(steps: Int, spacing: String, offset: Int) throws -> [Int] {
        let ts = try unchecked(steps: steps, spacing: spacing, offset: offset)
        guard ts.allSatisfy({ (0..<trainSteps).contains($0) }) else {
            // The nearest step count below that fits (looked for among the next 64).
            let fitting = stride(from: steps - 1, to: max(0, steps - 65), by: -1).first { n in
                (try? unchecked(steps: n, spacing: spacing, offset: offset))?.allSatisfy { (0..<trainSteps).contains($0) } == true
            }
            let advice = fitting.map { "use at most \($0) step\($0 == 1 ? "" : "s")" } ?? "change steps_offset or timestep_spacing"
            throw SchedulerError(field: "steps", message: "\(steps) steps with '\(spacing)' spacing and steps_offset \(offset) reach timesteps outside the \(trainSteps) training steps; \(advice)")
        }
        return ts
    }

    /// Checks fractional timesteps (the sigma samplers'): each in 0...trainSteps - 1, where the noise levels are
    /// interpolated rather than clamped, and, when `decreasing`, each below the one before (DPM-Solver divides
    /// by the difference of consecutive noise levels).
    func check(timesteps ts: [Double], steps: Int, spacing: String, offset: Int, decreasing: Bool = false) throws {
        let last = Double(trainSteps - 1)
        let inRange = ts.allSatisfy { $0 >= 0 && $0 <= last }
        let ordered = !decreasing || zip(ts, ts.dropFirst()).allSatisfy { $0 > $1 }
        guard inRange, ordered else {
            throw SchedulerError(field: "steps", message: "\(steps) steps with '\(spacing)' spacing and steps_offset \(offset) give timesteps \(inRange ? "that repeat" : "outside the \(trainSteps) training steps"); use fewer steps")
        }
    }

    private func unchecked(steps: Int, spacing: String, offset: Int) throws -> [Int] {
        let t = trainSteps
        switch spacing {
        case "linspace":
            return Self.npLinspace(0, Double(t - 1), steps).map { Int($0.rounded(.toNearestOrEven)) }.reversed()
        case "leading":
            let ratio = t / steps
            return (0..<steps).reversed().map { $0 * ratio + offset }
        case "trailing":
            let ratio = Double(t) / Double(steps)
            return Self.npArangeDown(Double(t), 0, -ratio).map { Int($0.rounded(.toNearestOrEven)) - 1 }
        default:
            throw SchedulerError(field: "timestep_spacing", message: "'\(spacing)' is not supported (linspace, leading, trailing)")
        }
    }

    /// sigma_t = sqrt((1 - abar) / abar) for every training step, in fp32.
    var sigmas: [Float] { alphasCumprod.map { ((1 - $0) / $0).squareRoot() } }

    /// numpy.interp at x over the points (i, values[i]).
    static func interp(_ x: Double, _ values: [Float]) -> Double {
        if x <= 0 { return Double(values[0]) }
        if x >= Double(values.count - 1) { return Double(values[values.count - 1]) }
        let j = Int(x.rounded(.down))
        let slope = Double(values[j + 1]) - Double(values[j])
        return slope * (x - Double(j)) + Double(values[j])
    }

    /// diffusers' `_sigma_to_t`: the fractional training step whose log-sigma matches, interpolated.
    static func sigmaToT(_ sigma: Double, logSigmas: [Float]) -> Double {
        let logSigma = Foundation.log(max(sigma, 1e-10))
        let below = logSigmas.reduce(0) { $0 + (logSigma - Double($1) >= 0 ? 1 : 0) }
        let low = min(max(below - 1, 0), logSigmas.count - 2), high = low + 1
        let lo = Double(logSigmas[low]), hi = Double(logSigmas[high])
        let w = min(max((lo - logSigma) / (lo - hi), 0), 1)
        return (1 - w) * Double(low) + w * Double(high)
    }

    /// Karras et al. (2022) sigmas, rho = 7, from sigma_max down to sigma_min.
    static func karras(min sigmaMin: Double, max sigmaMax: Double, steps: Int) -> [Double] {
        let rho = 7.0
        let minInv = Foundation.pow(sigmaMin, 1 / rho), maxInv = Foundation.pow(sigmaMax, 1 / rho)
        return npLinspace(0, 1, steps).map { Foundation.pow(maxInv + $0 * (minInv - maxInv), rho) }
    }
}
