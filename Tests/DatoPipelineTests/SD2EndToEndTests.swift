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
        let pipe = try StableDiffusionPipeline.load(path: "/tmp/sd2hack")
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
        try checkAgainstDiffusers(path: "/tmp/sd2hack")
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
            var config = SchedulerConfig()
            config.className = c.scheduler
            config.useKarrasSigmas = c.karras
            guard let kind = SchedulerKind(config: config) else { XCTFail("no scheduler for \(c.scheduler)"); continue }
            var request = GenerationRequest(prompt: ref.prompt)
            request.negativePrompt = c.negative_prompt ?? ""
            request.seed = ref.seed
            request.steps = ref.steps
            request.guidanceScale = ref.guidance_scale
            request.width = ref.width
            request.height = ref.height
            request.scheduler = kind
            let generated = try pipe.generate(request)
            let latents = try io.tensor("\(c.name).latents")
            var worst: Float = 0
            for i in 0..<latents.count { worst = max(worst, difference(generated.latents[i], latents[i])) }
            XCTAssertLessThanOrEqual(worst, 1e-3 * latents.maxAbs, "\(c.name): latent max error \(worst)")
            let expected = try io.tensor("\(c.name).image")
            let psnr = imagePSNR(pixels: generated.pixels, reference: { expected[$0] }, count: expected.count)
            XCTAssertGreaterThanOrEqual(psnr, 40, "\(c.name): PSNR \(psnr) dB")
            print("SD 2.x \(URL(fileURLWithPath: path).lastPathComponent) \(c.name): latent max abs error \(worst), image PSNR \(psnr) dB")
        }
    }
}
