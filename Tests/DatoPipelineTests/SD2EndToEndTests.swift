import DatoCore
@testable import DatoPipeline
import DatoTestSupport
import Foundation
import XCTest

/// The tiny random SD 2.x pipeline (v-prediction, GELU text encoder, "!" padding, per-level heads, linear
/// projections, upcast attention) against diffusers' StableDiffusionPipeline, from the diffusers folder and from
/// the original single-file (OpenCLIP layout) checkpoint; references by tools/fixtures/sd2_fixtures.py.
final class SD2EndToEndTests: XCTestCase {
    struct Reference: Decodable {
        struct Case: Decodable {
            let name: String
            let scheduler: String
            let karras: Bool
            let negative_prompt: String?
        }
        let prompt: String
        let seed: UInt64
        let steps: Int
        let guidance_scale: Float
        let width: Int
        let height: Int
        let cases: [Case]
    }

    static let root = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/sd2")

    func reference() throws -> (Reference, SafetensorsFile) {
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.root.appendingPathComponent("reference.json")))
        return (ref, try SafetensorsFile(path: Self.root.appendingPathComponent("reference.safetensors").path))
    }

    /// The text states the UNet attends to (padding rows included) equal transformers'.
    func testTextStates() throws {
        let (ref, io) = try reference()
        let pipe = try StableDiffusionPipeline.load(path: Self.root.appendingPathComponent("tiny-sd2").path)
        let ids = try io.tensor("prompt.input_ids")
        XCTAssertEqual(pipe.tokenizer(ref.prompt).ids, (0..<ids.count).map { Int(ids[$0]) })
        let states = try pipe.encode(ref.prompt)
        let expected = try io.tensor("prompt.text_states")
        XCTAssertEqual(states.shape, expected.shape)
        var worst: Float = 0
        for i in 0..<expected.count { worst = max(worst, difference(states[i], expected[i])) }
        XCTAssertLessThanOrEqual(worst, 1e-4, "text states max error \(worst)")
    }

    func testFolderMatchesDiffusers() throws {
        try checkAgainstDiffusers(path: Self.root.appendingPathComponent("tiny-sd2").path)
    }

    func testSingleFileMatchesDiffusers() throws {
        try checkAgainstDiffusers(path: Self.root.appendingPathComponent("tiny-sd2-openclip.safetensors").path,
                                  configFolder: Self.root.appendingPathComponent("tiny-sd2").path)
    }

    /// Every reference case (scheduler, Karras sigmas, with and without a negative prompt): the same latents and a
    /// PSNR of at least 40 dB against diffusers' image.
    func checkAgainstDiffusers(path: String, configFolder: String? = nil) throws {
        let (ref, io) = try reference()
        let pipe = try StableDiffusionPipeline.load(path: path, configFolder: configFolder)
        XCTAssertEqual(pipe.schedulerConfig.predictionType, "v_prediction")
        for c in ref.cases {
            let run = ReferenceRun(prompt: ref.prompt, negativePrompt: c.negative_prompt ?? "", seed: ref.seed, steps: ref.steps,
                                   guidanceScale: ref.guidance_scale, width: ref.width, height: ref.height)
            guard let request = run.request(scheduler: c.scheduler, karras: c.karras) else {
                XCTFail("no scheduler for \(c.scheduler)")
                continue
            }
            print("SD 2.x \(URL(fileURLWithPath: path).lastPathComponent):")
            try assertMatchesReference(try pipe.generate(request), io: io, name: c.name)
        }
    }
}
