@testable import DatoAccel
import DatoCore
import DatoPipeline
import Foundation
import XCTest

/// Issue 23's regression: AT-EDM's default must keep the image. On the tiny fixture pipeline the default
/// `atedm:0.5` stays close to the unaccelerated run; the reading it replaced (whole-state copy from the most
/// attended kept token, both levels, CFG rows on their own masks) drifts far from it.
final class ATEDMFidelityTests: XCTestCase {
    /// ||a - b|| / ||b|| over the final latents.
    static func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
        var diff = 0.0, norm = 0.0
        for i in 0..<b.count {
            let d = Double(a[i] - b[i])
            diff += d * d
            norm += Double(b[i]) * Double(b[i])
        }
        return (diff / max(norm, 1e-30)).squareRoot()
    }

    /// The final latents of `plan` (nil: unaccelerated) for two prompts, 10 PNDM steps at CFG 7.5.
    func latents(_ pipe: StableDiffusionPipeline, plan: String?) throws -> [Tensor] {
        try ["a red circle", "a green square"].enumerated().map { i, prompt in
            var r = GenerationRequest(prompt: prompt)
            r.width = 64; r.height = 64; r.steps = 10; r.seed = UInt64(7 + i); r.plan = plan
            return try pipe.generate(r).latents
        }
    }

    func testDefaultKeepsTheImage() throws {
        let dir = CachingTests.fixtures.appendingPathComponent("DatoPipelineTests/Fixtures/tiny-sd").path
        let pipe = try StableDiffusionPipeline.load(path: dir)
        let full = try latents(pipe, plan: nil)
        func error(_ plan: String) throws -> Double {
            let runs = try latents(pipe, plan: plan)
            return zip(runs, full).map { Self.relativeError($0, $1) }.reduce(0, +) / Double(full.count)
        }
        let byDefault = try error("atedm:0.5")
        let replaced = try error("atedm:0.5,levels=0+1,recovery=attention,copy=state,share=none,gwpr=received,self=1")
        print("atedm fidelity: default \(byDefault), replaced reading \(replaced)")
        XCTAssertLessThan(byDefault, 0.05, "atedm:0.5 drifts from the full run")
        XCTAssertGreaterThan(replaced, 2 * byDefault, "the replaced reading should drift further")
    }
}
