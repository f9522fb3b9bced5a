import DatoCore
import DatoModels
import XCTest

/// The full SD 1.5 UNet configuration, with random weights made in Swift (nothing committed),
/// runs one forward pass at a small latent and gives finite output of the right shape.
final class SD15ArchitectureTests: XCTestCase {
    func testFullConfigForward() throws {
        let config = UNetConfig()   // SD 1.5 defaults: 320/640/1280/1280, 8 heads, 768-wide text states
        XCTAssertEqual(config.headsPerBlock, [8, 8, 8, 8])
        let params = Parameters(RandomSource(seed: 7))
        let unet = try UNet2DConditionModel(config: config, params: params.scope(""))
        try params.finish()
        let sample = try RandomSource(seed: 1).load("sample", shape: [1, 12, 10, 4])   // odd grids: 12x10 -> 6x5 -> 3x3 -> 2x2
        let context = try RandomSource(seed: 2).load("context", shape: [1, 77, 768])
        var shapes: [String: [Int]] = [:]
        let out = try unet(sample, timesteps: [999], context: context,
                           hooks: UNetHooks(observer: { shapes[$0] = $1.shape }))
        XCTAssertEqual(out.shape, [1, 12, 10, 4])
        XCTAssertTrue(out.allFinite)
        XCTAssertGreaterThan(out.maxAbs, 0)
        // Skip tensors 0..11 as unet-layout.md numbers them (conv_in plus 11 from the down blocks).
        XCTAssertEqual((0..<4).flatMap { i in (0..<3).compactMap { shapes["down_blocks.\(i).res.\($0)"] } }.count, 11)
        XCTAssertEqual(shapes["down_blocks.3.res.1"], [1, 2, 2, 1280])
        XCTAssertEqual(shapes["mid_block"], [1, 2, 2, 1280])
        XCTAssertEqual(shapes["up_blocks.0"], [1, 3, 3, 1280])
        XCTAssertEqual(shapes["up_blocks.2"], [1, 12, 10, 640])   // U_3 ends with an upsampler
        XCTAssertEqual(shapes["up_blocks.3"], [1, 12, 10, 320])
    }
}
