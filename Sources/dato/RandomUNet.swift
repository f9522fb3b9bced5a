import DatoCore
import DatoModels

/// The SD 1.5 UNet with seeded random weights, as the speed benchmarks use it (a network's speed does not
/// depend on its weight values).
enum RandomUNet {
    /// Built in `precision`, the random source tensors freed as the layers take their (converted) copies.
    static func make(precision: Precision, config: UNetConfig = UNetConfig(), seed: UInt64 = 0) throws -> UNet2DConditionModel {
        let params = Parameters(RandomSource(seed: seed))
        return try Memory.withoutPooling {
            try Precision.$forNewLayers.withValue(precision) { try UNet2DConditionModel(config: config, params: params.scope("")) }
        }
    }
}
