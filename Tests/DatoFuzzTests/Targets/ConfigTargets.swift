import DatoAccel
import DatoCore
import DatoModels
import DatoPipeline
import Foundation

/// A model folder's JSON configs: UNet, VAE, text encoder and scheduler.
enum ConfigTargets {
    /// Step counts every scheduler is built for, all calls stepped.
    static let everyKind = [1, 4]
    /// Step counts the config's own scheduler is built for, with how many calls are stepped (in order, as the
    /// pipeline does; 1000 is the most `dato` accepts).
    static let ownKind: [(steps: Int, calls: Int)] = [(30, .max), (1000, 2)]

    /// The input as each of the four configs, through the loaders `dato` uses (`UNetConfig.load`,
    /// `VAEConfig.load`, `CLIPTextConfig.load`, `SchedulerConfig.load`, each decoding and validating). A UNet
    /// config that loads is costed (`UNetCost`, as the pipeline does for 512x512); a scheduler config that
    /// loads is built by every scheduler `--scheduler` offers and stepped on a small latent.
    static func config(_ data: Data) {
        let path = InputFile.shared.holding(data)
        if let unet = try? UNetConfig.load(path) {
            _ = UNetCost(config: unet, height: 64, width: 64).macs(depth: AccelerationPlan.fullDepth)
        }
        _ = try? VAEConfig.load(path)
        _ = try? CLIPTextConfig.load(path)
        guard let scheduler = try? SchedulerConfig.load(path) else { return }
        for kind in SchedulerKind.allCases {
            for steps in everyKind { run(kind, scheduler, steps: steps, calls: .max) }
        }
        let own = SchedulerKind(config: scheduler) ?? .pndm
        for (steps, calls) in ownKind { run(own, scheduler, steps: steps, calls: calls) }
    }

    /// Builds `kind` from `config` for `steps` steps and steps its first `calls` calls as the pipeline does.
    static func run(_ kind: SchedulerKind, _ config: SchedulerConfig, steps: Int, calls: Int) {
        guard let scheduler = try? kind.make(config: config, steps: steps) else { return }
        var noise = TorchGenerator(seed: 1)
        var latents = Tensor(shape: [1, 1, 2, 2], values: [0.5, -0.5, 1, -1])
        for k in 0..<min(calls, scheduler.callCount) {
            let input = scheduler.scaleModelInput(latents, call: k)
            let output = Tensor(shape: input.shape, values: [0.1, -0.2, 0.3, -0.4])
            guard let next = try? scheduler.step(output, call: k, sample: latents, noise: &noise) else { return }
            latents = next
        }
    }
}
