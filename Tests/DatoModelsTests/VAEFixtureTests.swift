import DatoCore
@testable import DatoModels
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
}
