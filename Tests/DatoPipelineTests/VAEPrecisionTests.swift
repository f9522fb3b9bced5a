import DatoCore
import DatoDemo
import DatoPipeline
import DatoTestSupport
import XCTest

/// `ComputeSettings.vaePrecision` (`--vae-precision`) reaches the VAE a pipeline loads, and only the VAE: the same
/// request gives the same latents and an image within 40 dB of the fp32 VAE's.
final class VAEPrecisionTests: XCTestCase {
    func testBF16VAEDecodesTheSameLatentsCloseToFP32() throws {
        var settings = ComputeSettings()
        let fp32 = try StableDiffusionPipeline.load(path: try DemoModel.folder(), compute: settings)
        settings.vaePrecision = .bf16
        let bf16 = try StableDiffusionPipeline.load(path: try DemoModel.folder(), compute: settings)
        var request = GenerationRequest(prompt: "a red circle on a blue background")
        request.width = 64; request.height = 64; request.steps = 5; request.seed = 7
        let a = try fp32.generate(request), b = try bf16.generate(request)
        XCTAssertEqual(a.latents.array, b.latents.array, "the UNet and text encoder stay in fp32")
        let mse = meanSquaredError(a.decoded.array, b.decoded.array)
        XCTAssertGreaterThan(mse, 0, "the bf16 VAE should round differently from the fp32 one")
        XCTAssertGreaterThan(10 * log10(4 / max(mse, 1e-30)), 40, "PSNR of the bf16 VAE's image on [-1, 1]")
    }
}
