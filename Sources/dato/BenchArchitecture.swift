import ArgumentParser
import DatoModels

/// The published UNet architectures the speed benchmarks build with random weights.
enum BenchArchitecture: String, ExpressibleByArgument, CaseIterable {
    /// runwayml/stable-diffusion-v1-5: 8 heads per level, 768-wide text states, convolution projections.
    case sd15
    /// stabilityai/stable-diffusion-2-1: 64-wide heads (5, 10, 20, 20 per level), 1024-wide OpenCLIP text
    /// states, linear projections, upcast attention, 96x96 native latent.
    case sd21

    /// The architecture's `unet/config.json` values.
    var unetConfig: UNetConfig {
        var c = UNetConfig()
        if self == .sd21 {
            c.attentionHeadDim = .list([5, 10, 20, 20])
            c.crossAttentionDim = 1024
            c.useLinearProjection = true
            c.upcastAttention = true
            c.sampleSize = 96
        }
        return c
    }

    /// A name for printed results.
    var title: String { self == .sd15 ? "SD 1.5" : "SD 2.1" }
}
