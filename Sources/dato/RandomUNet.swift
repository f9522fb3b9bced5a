import DatoCore
import DatoModels

/// The SD 1.5 UNet with seeded random weights, as the speed benchmarks use it (a network's speed does not
/// depend on its weight values).
enum RandomUNet {
    /// Built with `compute`, the random source tensors freed as the layers take their (converted) copies.
    static func make(compute: ComputeSettings, config: UNetConfig = UNetConfig(), seed: UInt64 = 0) throws -> UNet2DConditionModel {
        let params = Parameters(RandomSource(seed: seed))
        return try Memory.withoutPooling {
            try UNet2DConditionModel(config: config, params: params.scope("", compute: compute))
        }
    }
}
