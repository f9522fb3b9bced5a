import DatoCore
import DatoModels

/// Feature caching (DeepCache with a depth per call) around a UNet, for one denoising run at a time.
///
/// All state (cached up-unit outputs, the last raw output) belongs to the current run and is cleared by
/// `reset()`, which the pipeline calls when a run starts (the reference implementation's call counter leaked from one run into the next).
public final class CachedUNet: UNetFeatureStore {
    public let unet: UNet2DConditionModel
    public let plan: AccelerationPlan
    private var upOutputs: [Int: Tensor] = [:]
    private var lastOutput: Tensor?

    public init(unet: UNet2DConditionModel, plan: AccelerationPlan) {
        self.unet = unet
        self.plan = plan
    }

    /// Forgets everything cached (start of a run).
    public func reset() {
        upOutputs = [:]
        lastOutput = nil
    }

    /// UNet call `k` of the run at the plan's depth: 12 full; 1...11 partial from the cache; 0 returns the
    /// previous call's raw output unchanged (all batch rows).
    public func callAsFunction(call k: Int, _ sample: Tensor, timesteps: [Float], context: Tensor) throws -> Tensor {
        guard k < plan.depths.count else { throw PlanError("no depth for UNet call \(k)") }
        let d = plan.depths[k]
        if d == 0 {
            guard let lastOutput else { throw PlanError("call \(k) at depth 0 has no previous output to repeat") }
            return lastOutput
        }
        let out = try unet(sample, timesteps: timesteps, context: context,
                           depth: d >= AccelerationPlan.fullDepth ? nil : d, features: self)
        lastOutput = out
        return out
    }

    public func store(_ output: Tensor, ofUpUnit k: Int) { upOutputs[k] = output }
    public func output(ofUpUnit k: Int) -> Tensor? { upOutputs[k] }
}
