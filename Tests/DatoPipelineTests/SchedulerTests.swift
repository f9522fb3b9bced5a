import DatoCore
@testable import DatoPipeline
import Foundation
import XCTest
import DatoTestSupport

/// Whole sampling loops with a deterministic dummy model, compared after every call with diffusers.
final class SchedulerTests: XCTestCase {
    struct Case: Decodable {
        let `class`: String
        let config: SchedulerConfig
        let steps: Int
        let eta: Float
    }

    func testAgainstDiffusers() throws {
        let dir = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/schedulers")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 14)
        for file in names {
            let name = String(file.dropLast(5))
            let spec = try JSONDecoder().decode(Case.self, from: Data(contentsOf: dir.appendingPathComponent(file)))
            var config = spec.config
            config.className = spec.class
            guard let kind = SchedulerKind(config: config) else { XCTFail("\(name): unknown class \(spec.class)"); continue }
            let s = try kind.make(config: config, steps: spec.steps, eta: spec.eta)
            let io = try SafetensorsFile(path: dir.appendingPathComponent("\(name).safetensors").path)
            let refTimesteps = try io.tensor("timesteps").array
            XCTAssertEqual(s.timesteps.count, refTimesteps.count, "\(name): call count")
            for (a, b) in zip(s.timesteps, refTimesteps) { XCTAssertEqual(a, b, accuracy: 1e-3 * max(1, abs(b)), "\(name): timesteps") }
            XCTAssertEqual(s.initNoiseSigma, try io.tensor("init_noise_sigma")[0], accuracy: 1e-5 * max(1, s.initNoiseSigma), name)
            let c = try io.tensor("c")
            var g = TorchGenerator(seed: 1234)
            var latents = g.randnNHWC(c.shape)
            latents = LatentMath.map(latents) { $0 * s.initNoiseSigma }
            assertRelative(latents, try io.tensor("latents.init"), tol: 1e-5, "\(name) initial latents")
            for k in 0..<s.callCount {
                let input = s.scaleModelInput(latents, call: k)
                let t = s.timesteps[k]
                let eps = LatentMath.map(input, c) { (0.9 - 0.4 * t / 1000) * $0 + $1 }
                latents = try s.step(eps, call: k, sample: latents, noise: &g)
                assertRelative(latents, try io.tensor("latents.\(k)"), tol: 1e-5, "\(name) after call \(k)")
            }
        }
    }

    func testPNDMCallMap() throws {
        let s = try SchedulerKind.pndm.make(config: .sd15, steps: 50)
        XCTAssertEqual(s.callCount, 51)
        // PNDM calls (docs/methods/caching.md): 981, 961, 961, 941, ..., 1 and stepIndex 0, 1, 1, 2, ...
        XCTAssertEqual(Array(s.timesteps.prefix(4)), [981, 961, 961, 941])
        XCTAssertEqual(s.timesteps.last, 1)
        XCTAssertEqual((0..<5).map { s.stepIndex(ofCall: $0) }, [0, 1, 1, 2, 3])
        XCTAssertEqual(s.stepIndex(ofCall: 50), 49)
    }

    func testUnsupportedSettingsAreRejected() {
        var c = SchedulerConfig.sd15
        c.betaSchedule = "squaredcos_cap_v2"
        XCTAssertThrowsError(try SchedulerKind.ddim.make(config: c, steps: 10)) { XCTAssertTrue("\($0)".contains("beta_schedule")) }
        XCTAssertThrowsError(try SchedulerKind.ddim.make(config: .sd15, steps: 0))
        var p = SchedulerConfig.sd15
        p.skipPrkSteps = false
        XCTAssertThrowsError(try SchedulerKind.pndm.make(config: p, steps: 10)) { XCTAssertTrue("\($0)".contains("skip_prk_steps")) }
    }

    func assertRelative(_ a: Tensor, _ b: Tensor, tol: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        var worst: Float = 0
        for i in 0..<min(a.count, b.count) { worst = max(worst, difference(a[i], b[i])) }
        XCTAssertLessThanOrEqual(worst, tol * max(b.maxAbs, 1e-6), "\(what): max error \(worst), max |ref| \(b.maxAbs)", file: file, line: line)
    }
}
