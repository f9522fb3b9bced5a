import DatoCore
import DatoModels

/// The UNet of one denoising run with its acceleration plan applied: feature caching (DeepCache with a depth
/// per call), the plan's token-pruning policy (`begin`/`end` around every call) and the count of the
/// multiply-accumulates the run performed. The pipeline, `dato bench` and the search all drive runs through it.
///
/// It is made per run and owns all per-run state (cached up-unit outputs, the last raw output, the pruning
/// policy's memory, the MAC count); the loaded model is only read, through `UNetHooks` passed with each call,
/// so several runs may share one model at the same time. `reset()` starts a new run on the same object (no
/// state leaks from one run into the next, unlike the reference implementation's call counter).
public final class AcceleratedUNet: UNetFeatureStore {
    public let unet: UNet2DConditionModel
    public let plan: AccelerationPlan
    /// The run's token-pruning policy, made from the plan's method (nil: no pruning).
    public let pruning: PruningPolicy?
    /// The multiply-accumulates of the calls so far, for one image (no CFG factor; the convention of
    /// docs/methods/caching.md), counting the tokens every pruned layer actually ran with.
    public private(set) var macs = 0.0
    /// The cost model of the run's shapes (made at the first call).
    public private(set) var cost: UNetCost?
    private let steps: Int, cfg: Bool
    private var upOutputs: [Int: Tensor] = [:]
    private var lastOutput: Tensor?

    /// A run of `plan` on `unet`. `steps` is the run's number of denoising steps (default: one per call) and
    /// `cfg` says whether each call's batch is [uncond rows; cond rows]; the pruning policy's random streams
    /// derive from `seed` (the image seed, never the sampler's generator).
    public init(unet: UNet2DConditionModel, plan: AccelerationPlan, steps: Int? = nil, cfg: Bool = false,
                seed: UInt64 = 0) {
        self.unet = unet
        self.plan = plan
        self.steps = steps ?? plan.depths.count
        self.cfg = cfg
        pruning = plan.pruning.makePolicy(seed: seed, similarity: unet.compute.similarity)
        pruning?.reset(steps: self.steps, cfg: cfg)
    }

    /// Forgets everything of the run so far (cache, pruning memory, MAC count): the start of a new run.
    public func reset() {
        upOutputs = [:]
        lastOutput = nil
        macs = 0
        pruning?.reset(steps: steps, cfg: cfg)
    }

    /// UNet call `k` of the run (of denoising step `step`, default `k`) at the plan's depth: 12 full; 1...11
    /// partial from the cache; 0 returns the previous call's raw output unchanged (all batch rows). The
    /// step's prune ratio applies; `observer` traces the call (`UNetHooks.observer`).
    public func callAsFunction(call k: Int, step: Int? = nil, _ sample: Tensor, timesteps: [Float], context: Tensor,
                               observer: ModuleObserver? = nil) throws -> Tensor {
        guard k >= 0, k < plan.depths.count else { throw PlanError("no depth for UNet call \(k)") }
        let d = plan.depths[k], s = step ?? k
        pruning?.begin(call: k, step: s, ratio: plan.ratio(step: s))
        let out: Tensor
        if d == 0 {
            guard let lastOutput else { throw PlanError("call \(k) at depth 0 has no previous output to repeat") }
            out = lastOutput
        } else {
            let hooks = UNetHooks(features: self, tokenReducer: pruning, observer: observer)
            out = try unet(sample, timesteps: timesteps, context: context,
                           depth: d >= AccelerationPlan.fullDepth ? nil : d, hooks: hooks)
            lastOutput = out
        }
        pruning?.end(call: k, output: out)
        count(depth: d, sample: sample, context: context)
        return out
    }

    /// The MACs of a run of full calls as long as the plan, at the shapes of the calls so far (0 before any).
    public var fullMACs: Double { cost?.macs(plan: .full(calls: plan.depths.count)) ?? 0 }

    /// Adds a call's MACs at depth `d` with the token counts the pruning policy logged.
    private func count(depth d: Int, sample: Tensor, context: Tensor) {
        let cost = self.cost ?? UNetCost(config: unet.config, height: sample.dim(1), width: sample.dim(2),
                                         contextTokens: context.dim(1))
        self.cost = cost
        let log = pruning?.tokenLog ?? [:]
        macs += cost.macs(depth: d) { log[$0.path] }
    }

    public func store(_ output: Tensor, ofUpUnit k: Int) { upOutputs[k] = output }
    public func output(ofUpUnit k: Int) -> Tensor? { upOutputs[k] }
}
