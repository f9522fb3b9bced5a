import DatoCore
@testable import DatoModels
import DatoTestSupport
import XCTest

/// The VAE encoder and decoder match diffusers on a seeded tiny model (non-square image).
final class VAEFixtureTests: XCTestCase {
    /// diffusers' vae_scale_factor: 2^(levels - 1): 8 for SD's four levels, 4 for the three-level demo VAE.
    func testScaleFactor() {
        var c = VAEConfig()
        XCTAssertEqual(c.scaleFactor, 8)
        c.blockOutChannels = [32, 64, 64]
        XCTAssertEqual(c.scaleFactor, 4)
    }

    func testMatchesDiffusers() throws {
        let config = try VAEConfig.load(Fixtures.path("vae-tiny", "config.json"))
        let params = Parameters(try SafetensorsSource(path: Fixtures.path("vae-tiny", "diffusion_pytorch_model.safetensors")))
        let vae = try AutoencoderKL(config: config, params: params.scope(""))
        try params.finish()
        let io = try Fixtures.io("vae-tiny")
        var seen: [String: Tensor] = [:]
        let observer: ModuleObserver = { seen[$0] = $1.copy() }
        assertClose(try vae.encode(io.tensor("image"), observer: observer), try io.tensor("moments"), "moments")
        assertClose(try vae.decode(io.tensor("latents"), observer: observer), try io.tensor("decoded"), "decoded")
        for key in io.entries.keys.filter({ $0.hasPrefix("inter.") }).sorted() {
            let module = String(key.dropFirst("inter.".count))
            guard let mine = seen[module] else { XCTFail("no output recorded for \(module)"); continue }
            assertClose(mine, try io.tensor(key), module)
        }
    }

    /// Tiled decoding equals diffusers' `enable_tiling()` decode on latents of 3 x 4 tiles (short edge tiles),
    /// and differs from decoding the latents whole (so the tiles and the cross-fades are really exercised).
    func testTiledDecodeMatchesDiffusers() throws {
        let config = try VAEConfig.load(Fixtures.path("vae-tiny", "config.json"))
        XCTAssertEqual(config.sampleSize, 32)
        let params = Parameters(try SafetensorsSource(path: Fixtures.path("vae-tiny", "diffusion_pytorch_model.safetensors")))
        let vae = try AutoencoderKL(config: config, params: params.scope(""))
        let io = try Fixtures.io("vae-tiny")
        let latents = try io.tensor("tiled_latents")
        let tiled = try vae.tiledDecode(latents)
        assertClose(tiled, try io.tensor("tiled_decoded"), "tiled decode")
        let whole = try vae.decode(latents)
        XCTAssertEqual(whole.shape, tiled.shape)
        XCTAssertGreaterThan(zip(whole.array, tiled.array).map { abs($0 - $1) }.max() ?? 0, 1e-3, "tiling must change the result")
    }

    /// A VAE made to compute in bf16 decodes diffusers' fp32 reference latents to within 40 dB PSNR of diffusers'
    /// image (on the image's [-1, 1] range), and not bit-identically to fp32 (so bf16 really runs).
    func testBF16DecodeStaysWithin40dBOfDiffusers() throws {
        let config = try VAEConfig.load(Fixtures.path("vae-tiny", "config.json"))
        let params = Parameters(try SafetensorsSource(path: Fixtures.path("vae-tiny", "diffusion_pytorch_model.safetensors")))
        let bf16 = try AutoencoderKL(config: config, params: params.scope("", compute: ComputeSettings().forVAEInBF16))
        let fp32 = try AutoencoderKL(config: config, params: params.scope(""))
        let io = try Fixtures.io("vae-tiny")
        let latents = try io.tensor("latents"), reference = try io.tensor("decoded")
        let decoded = try bf16.decode(latents)
        XCTAssertEqual(decoded.shape, reference.shape)
        let psnr = 10 * log10(4 / max(meanSquaredError(decoded.array, reference.array), 1e-30))   // peak-to-peak 2 on [-1, 1]
        XCTAssertGreaterThan(psnr, 40, "bf16 decode PSNR \(psnr) dB")
        XCTAssertGreaterThan(meanSquaredError(decoded.array, try fp32.decode(latents).array), 0,
                             "a bf16 decode should round differently from fp32")
    }

}

private extension ComputeSettings {
    /// Default settings with the VAE in bf16, as `--vae-precision bf16` gives them.
    var forVAEInBF16: ComputeSettings {
        var s = self
        s.vaePrecision = .bf16
        return s.forVAE
    }
}
