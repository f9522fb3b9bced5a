import ArgumentParser
import DatoAccel
import DatoCore
import DatoModels
import DatoPipeline
import Foundation

/// `dato bench plans`: feature caching on the SD 1.5 architecture (random weights): time per UNet call at
/// several depths, then whole sampling runs with plans, as speed-up over our own full run.
struct BenchPlans: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plans",
        abstract: "Time UNet calls per depth and whole runs with acceleration plans (SD 1.5 architecture, random weights)."
    )

    @Option(help: "Latent side (64 = 512 px).") var latent = 64
    @Option(help: "Denoising steps.") var steps = 50
    @Option(help: "Scheduler for the whole runs.") var scheduler: SchedulerKind = .pndm
    @Option(name: .customLong("accel"), help: "Plans to run (repeatable).")
    var plans: [String] = ["deepcache:3", "deepcache:5", "dato-reference"]
    @Option(help: "Depths to time one call at.") var depths = "12,3,2,1,0"
    @Option(help: "Repeats per depth (median).") var repeats = 3
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var compute: PrecisionOptions
    var precision: Precision { compute.precision }
    @Flag(help: "Skip the unaccelerated whole run (no speed-up column then).") var skipFull = false

    func validate() throws {
        try checkArguments {
            try ArgumentCheck.integer(latent, "--latent", in: 8...256)
            try ArgumentCheck.integer(steps, "--steps", in: 1...1000)
            try ArgumentCheck.integer(repeats, "--repeats", in: 1...1000)
            _ = try ArgumentCheck.integers(depths, "--depths", in: 0...AccelerationPlan.fullDepth)
            for plan in plans { try PlanPresets.check(plan, steps: steps) }
        }
    }

    func run() throws {
        threadOptions.apply()
        let kind = scheduler
        let config = UNetConfig()
        let unet = try RandomUNet.make(compute: compute.settings(), config: config)
        var g = TorchGenerator(seed: 1)
        let context = Tensor(shape: [2, 77, 768], values: g.randn(2 * 77 * 768))
        let x = g.randnNHWC([2, latent, latent, 4])
        let cost = UNetCost(config: config, height: latent, width: latent)
        print("SD 1.5 UNet, random weights, latent \(latent)x\(latent), batch 2 (CFG), \(Parallel.threadCount) threads, \(compute.description)")
        print("per-call time by depth (median of \(repeats), after a full call filled the cache):")
        for d in try ArgumentCheck.integers(depths, "--depths", in: 0...AccelerationPlan.fullDepth) {
            let cached = AcceleratedUNet(unet: unet, plan: try AccelerationPlan(depths: [12] + Array(repeating: d, count: repeats)))
            _ = try cached(call: 0, x, timesteps: [500, 500], context: context)
            var times: [Double] = []
            for k in 1...repeats {
                let s = Date()
                _ = try cached(call: k, x, timesteps: [500, 500], context: context)
                times.append(Date().timeIntervalSince(s))
            }
            let m = times.sorted()[times.count / 2]
            print(String(format: "  depth %2d: %8.3f s   (%.3f of the full MACs)", d, m, cost.macs(depth: d) / cost.macs(depth: 12)))
        }
        _ = try unet(x, timesteps: [500, 500], context: context)   // warm-up: primitives and reordered weights
        print("whole \(kind.rawValue)-\(steps) runs (denoising loop only):")
        var fullTime = 0.0
        let width = max(16, plans.map(\.count).max() ?? 0)
        for spec in (skipFull ? [] : ["none"]) + plans {
            let sched = try kind.make(config: .sd15, steps: steps)
            let plan = try PlanPresets.resolve(spec, calls: sched.callCount, steps: steps)
            let run = AcceleratedUNet(unet: unet, plan: plan, steps: steps, cfg: true, seed: 1)   // two rows, as under guidance
            var latents = x
            var noise = TorchGenerator(seed: 2)
            let s = Date()
            for k in 0..<sched.callCount {
                let t = sched.timesteps[k]
                let out = try run(call: k, step: sched.stepIndex(ofCall: k), sched.scaleModelInput(latents, call: k),
                                  timesteps: [t, t], context: context)
                latents = try sched.step(out, call: k, sample: latents, noise: &noise)
            }
            let seconds = Date().timeIntervalSince(s)
            if spec == "none" { fullTime = seconds }
            let speedUp = fullTime > 0 ? String(format: "speed-up %5.2fx", fullTime / seconds) : "speed-up     -"
            print("  " + spec.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: " %8.1f s  %@  MAC ratio %.3f  (%@)", seconds,
                         speedUp, run.macs / run.fullMACs, plan.summary as NSString))
        }
    }
}
