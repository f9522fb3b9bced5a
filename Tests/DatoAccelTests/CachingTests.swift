@testable import DatoAccel
import DatoCore
import DatoModels
import DatoPipeline
import Foundation
import XCTest

/// Depth semantics of feature caching on the SD-layout tiny UNet (12 units, like SD 1.x).
final class CachingTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    func loadUNet() throws -> UNet2DConditionModel {
        let dir = Self.fixtures.appendingPathComponent("DatoModelsTests/Fixtures/unet-sdlike").path
        return try StableDiffusionModels.loadUNet(config: try UNetConfig.load("\(dir)/config.json"), folder: dir)
    }

    func inputs(seed: UInt64) -> (Tensor, Tensor) {
        var g = TorchGenerator(seed: seed)
        let x = Tensor(shape: [2, 9, 9, 4], values: g.randn(2 * 9 * 9 * 4))
        let c = Tensor(shape: [2, 7, 32], values: g.randn(2 * 7 * 32))
        return (x, c)
    }

    func testAllFullPlanIsBitIdentical() throws {
        let unet = try loadUNet()
        let cached = AcceleratedUNet(unet: unet, plan: .full(calls: 3))
        for k in 0..<3 {
            let (x, c) = inputs(seed: UInt64(k))
            let t: [Float] = [Float(900 - 300 * k), Float(900 - 300 * k)]
            XCTAssertEqual(try cached(call: k, x, timesteps: t, context: c).array, try unet(x, timesteps: t, context: c).array, "call \(k)")
        }
    }

    /// With the cache filled by a full call on the same inputs, every partial depth reproduces the full
    /// output exactly; on new inputs it differs (the cached features are really reused).
    func testPartialCallsReuseTheCache() throws {
        let unet = try loadUNet()
        XCTAssertEqual(unet.unitCount, 12)
        let (x, c) = inputs(seed: 1)
        let (x2, _) = inputs(seed: 2)
        let t: [Float] = [500, 500]
        let full = try unet(x, timesteps: t, context: c).array
        let full2 = try unet(x2, timesteps: t, context: c).array
        for d in 1...11 {
            let plan = try AccelerationPlan(depths: [12, d, d])
            let cached = AcceleratedUNet(unet: unet, plan: plan)
            _ = try cached(call: 0, x, timesteps: t, context: c)
            XCTAssertEqual(try cached(call: 1, x, timesteps: t, context: c).array, full, "depth \(d), same input")
            let partial = try cached(call: 2, x2, timesteps: t, context: c).array
            XCTAssertNotEqual(partial, full2, "depth \(d) must not recompute everything")
            XCTAssertTrue(partial.allSatisfy(\.isFinite))
        }
    }

    /// Which units run at each depth: D_1..D_{d-1} and U_{d-1}..U_0 only, never the mid block.
    func testUnitsThatRun() throws {
        let unet = try loadUNet()
        let (x, c) = inputs(seed: 3)
        for d in 1...12 {
            let cached = AcceleratedUNet(unet: unet, plan: try AccelerationPlan(depths: [12, d]))
            _ = try cached(call: 0, x, timesteps: [10, 10], context: c)
            let spy = SpyStore(inner: cached)
            var downUnits = 0, mid = 0
            let observer: (String, Tensor) -> Void = { name, _ in
                if name.contains(".res.") { downUnits += 1 }
                if name == "mid_block" { mid += 1 }
            }
            _ = try unet(x, timesteps: [10, 10], context: c, depth: d == 12 ? nil : d,
                         hooks: UNetHooks(features: spy, observer: observer))
            XCTAssertEqual(downUnits, d - 1, "down units at depth \(d)")
            XCTAssertEqual(mid, d == 12 ? 1 : 0, "mid block at depth \(d)")
            XCTAssertEqual(spy.stored.sorted(), Array(1..<min(d, 12)), "up units stored at depth \(d)")
            XCTAssertEqual(spy.read, d == 12 ? [] : [d], "cache read at depth \(d)")
        }
    }

    func testDepthZeroRepeatsTheLastOutput() throws {
        let unet = try loadUNet()
        let cached = AcceleratedUNet(unet: unet, plan: try AccelerationPlan(depths: [12, 0, 0]))
        let (x, c) = inputs(seed: 4)
        let (x2, c2) = inputs(seed: 5)
        let first = try cached(call: 0, x, timesteps: [800, 800], context: c).array
        XCTAssertEqual(try cached(call: 1, x2, timesteps: [100, 100], context: c2).array, first)
        cached.reset()
        XCTAssertThrowsError(try cached(call: 2, x2, timesteps: [100, 100], context: c2))
    }

    /// Two images in a row with DDIM: the second equals the same image generated alone (no state leaks), on
    /// SD 1.x and on SD 2.x (v-prediction, linear projections, 6 units).
    func testNoStateCrossesRuns() throws {
        try checkNoStateCrossesRuns(model: "tiny-sd")
        try checkNoStateCrossesRuns(model: "sd2/tiny-sd2")
    }

    func checkNoStateCrossesRuns(model: String) throws {
        let dir = Self.fixtures.appendingPathComponent("DatoPipelineTests/Fixtures/\(model)").path
        var a = GenerationRequest(prompt: "a blue square")
        a.width = 48; a.height = 48; a.steps = 6; a.seed = 1; a.scheduler = .ddim; a.plan = "deepcache:2,branch=2"
        var b = a
        b.prompt = "a red circle"; b.seed = 2
        let pipe = try StableDiffusionPipeline.load(path: dir)
        _ = try pipe.generate(a)
        let second = try pipe.generate(b)
        let alone = try StableDiffusionPipeline.load(path: dir).generate(b)
        XCTAssertEqual(second.pixels, alone.pixels)
        XCTAssertEqual(second.latents.array, alone.latents.array)
        XCTAssertEqual(second.plan.depths, [12, 2, 12, 2, 12, 2])
        XCTAssertLessThan(second.macs, second.fullMACs)
    }
}

extension CachingTests {
    /// Every pruning method runs through the pipeline: it changes the image, is reproducible for a seed,
    /// and lowers the MAC count (the UNet holds no reducer: the policy travels with each call).
    func testPruningPlansThroughThePipeline() throws {
        try checkPruningPlans(model: "tiny-sd")
        try checkPruningPlans(model: "sd2/tiny-sd2")
    }

    /// The pruning plans on one fixture pipeline (`model` under DatoPipelineTests/Fixtures).
    func checkPruningPlans(model: String) throws {
        let dir = Self.fixtures.appendingPathComponent("DatoPipelineTests/Fixtures/\(model)").path
        let pipe = try StableDiffusionPipeline.load(path: dir)
        var r = GenerationRequest(prompt: "a red circle")
        r.width = 64; r.height = 64; r.steps = 4; r.seed = 3; r.scheduler = .ddim
        let plain = try pipe.generate(r)
        for plan in ["d:12*4;r:0.5*4;m:tome", "tome:0.5", "dato:0.4", "d:12,2*3+dato:0.5,cross,ffn", "atedm:0.6",
                     "atedm:0.6,temporal,refresh=2", "atedm:0.5,recovery=similarity,copyupdate,dsap=0"] {
            r.plan = plan
            let pruned = try pipe.generate(r)
            XCTAssertNotEqual(pruned.pixels, plain.pixels, plan)
            XCTAssertLessThan(pruned.macs, plain.macs, plan)
            XCTAssertEqual(try pipe.generate(r).pixels, pruned.pixels, "\(plan): the same seed gives the same image")
        }
        r.plan = "dato:0.9"
        XCTAssertThrowsError(try pipe.generate(r)) { XCTAssertTrue("\($0)".contains("limit"), "\($0)") }
        r.plan = "atedm:0.5,bogus=1"
        XCTAssertThrowsError(try pipe.generate(r)) { XCTAssertTrue("\($0)".contains("bogus"), "\($0)") }
    }
}

/// Records which up units a call stores and reads.
final class SpyStore: UNetFeatureStore {
    let inner: UNetFeatureStore
    var stored: [Int] = [], read: [Int] = []
    init(inner: UNetFeatureStore) { self.inner = inner }
    func store(_ output: Tensor, ofUpUnit k: Int) { stored.append(k); inner.store(output, ofUpUnit: k) }
    func output(ofUpUnit k: Int) -> Tensor? { read.append(k); return inner.output(ofUpUnit: k) }
}
