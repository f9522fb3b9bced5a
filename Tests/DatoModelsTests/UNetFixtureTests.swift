import DatoCore
@testable import DatoModels
import XCTest

/// The UNet matches diffusers on seeded tiny models, per output and per block.
final class UNetFixtureTests: XCTestCase {
    func check(_ name: String) throws {
        let config = try UNetConfig.load(Fixtures.path(name, "config.json"))
        let params = Parameters(try SafetensorsSource(path: Fixtures.path(name, "diffusion_pytorch_model.safetensors")))
        let unet = try UNet2DConditionModel(config: config, params: params.scope(""))
        try params.finish()
        let io = try Fixtures.io(name)
        var seen: [String: Tensor] = [:]
        unet.observer = { seen[$0] = $1.copy() }
        let out = try unet(io.tensor("sample"), timesteps: io.tensor("timesteps").array,
                           context: io.tensor("encoder_hidden_states"))
        assertClose(out, try io.tensor("out"), "\(name) output")
        let inter = io.entries.keys.filter { $0.hasPrefix("inter.") }.sorted()
        XCTAssertFalse(inter.isEmpty)
        for key in inter {
            let module = String(key.dropFirst("inter.".count))
            guard let mine = seen[module] else { XCTFail("\(name): no output recorded for \(module)"); continue }
            assertClose(mine, try io.tensor(key), "\(name) \(module)")
        }
    }

    func testTwoLevels() throws { try check("unet-tiny2") }
    func testThreeLevelsOddHeadsNonSquareLinearProjection() throws { try check("unet-tiny3-odd") }
    func testSDLayoutOddLatent() throws { try check("unet-sdlike") }
}
