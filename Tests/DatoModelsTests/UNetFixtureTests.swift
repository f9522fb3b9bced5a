import DatoCore
@testable import DatoModels
import XCTest
import DatoTestSupport

/// The UNet matches diffusers on seeded tiny models, per output and per block.
final class UNetFixtureTests: XCTestCase {
    func check(_ name: String) throws {
        let unet = try load(name)
        let io = try Fixtures.io(name)
        var seen: [String: Tensor] = [:]
        let out = try unet(io.tensor("sample"), timesteps: io.tensor("timesteps").array,
                           context: io.tensor("encoder_hidden_states"), hooks: UNetHooks(observer: { seen[$0] = $1.copy() }))
        assertClose(out, try io.tensor("out"), "\(name) output")
        let inter = io.entries.keys.filter { $0.hasPrefix("inter.") }.sorted()
        XCTAssertFalse(inter.isEmpty)
        for key in inter {
            let module = String(key.dropFirst("inter.".count))
            guard let mine = seen[module] else { XCTFail("\(name): no output recorded for \(module)"); continue }
            assertClose(mine, try io.tensor(key), "\(name) \(module)")
        }
    }

    func load(_ name: String, compute: ComputeSettings = ComputeSettings()) throws -> UNet2DConditionModel {
        let config = try UNetConfig.load(Fixtures.path(name, "config.json"))
        let params = Parameters(try SafetensorsSource(path: Fixtures.path(name, "diffusion_pytorch_model.safetensors")))
        let unet = try UNet2DConditionModel(config: config, params: params.scope("", compute: compute))
        try params.finish()
        return unet
    }

    /// Cross-attention keeps the keys and values of its last context: a second call with the same context gives
    /// the same output, and a context changed in place (the same tensor object) gives a fresh model's output.
    func testContextProjectionsFollowTheContext() throws {
        let name = "unet-tiny2"
        let (unet, fresh) = (try load(name), try load(name))
        let io = try Fixtures.io(name)
        let sample = try io.tensor("sample"), steps = try io.tensor("timesteps").array
        let context = try io.tensor("encoder_hidden_states").copy()
        let first = try unet(sample, timesteps: steps, context: context)
        assertClose(first, try io.tensor("out"), "first call")
        XCTAssertEqual(maxDifference(try unet(sample, timesteps: steps, context: context), first), 0, "same context")
        for i in 0..<context.count { context.data[i] = 0.5 - context.data[i] }
        let changed = try unet(sample, timesteps: steps, context: context)
        XCTAssertEqual(maxDifference(changed, try fresh(sample, timesteps: steps, context: context)), 0, "changed context")
        XCTAssertGreaterThan(maxDifference(changed, first), 1e-3, "the changed context must matter")
    }

    /// The whole UNet in bf16 (bf16 handed between norms, projections, attention and GEGLU; AMX attention where
    /// the CPU has it) stays within a few bf16 roundings of diffusers' fp32 output, and does differ from it.
    func testBF16StaysCloseToDiffusers() throws {
        for name in ["unet-tiny2", "unet-sdlike"] {
            let unet = try load(name, compute: ComputeSettings(precision: .bf16))
            let io = try Fixtures.io(name)
            let context = try io.tensor("encoder_hidden_states")
            let reference = try io.tensor("out")
            for call in 1...2 {   // the second call reuses the cross-attention's bf16 keys and values
                let out = try unet(try io.tensor("sample"), timesteps: try io.tensor("timesteps").array, context: context)
                let error = maxDifference(out, reference) / reference.maxAbs
                XCTAssertLessThan(error, 0.03, "\(name), call \(call)")
                XCTAssertGreaterThan(error, 1e-5, "\(name): the bf16 rounding must show")
            }
        }
    }

    func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.array, b.array).reduce(0) { max($0, difference($1.0, $1.1)) }
    }

    func testTwoLevels() throws { try check("unet-tiny2") }
    func testThreeLevelsOddHeadsNonSquareLinearProjection() throws { try check("unet-tiny3-odd") }
    func testSDLayoutOddLatent() throws { try check("unet-sdlike") }
}
