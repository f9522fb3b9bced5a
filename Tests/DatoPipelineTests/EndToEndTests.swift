import DatoCore
@testable import DatoPipeline
import Foundation
import XCTest
import DatoTestSupport

/// The whole pipeline against diffusers' StableDiffusionPipeline on a seeded tiny random model:
/// same prompt, negative prompt, seed and scheduler give the same latents and image.
final class EndToEndTests: XCTestCase {
    struct Reference: Decodable {
        let prompt: String
        let negative_prompt: String
        let seed: UInt64
        let steps: Int
        let guidance_scale: Float
        let width: Int
        let height: Int
        let schedulers: [String]
    }

    func testMatchesDiffusers() throws {
        let root = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: root.appendingPathComponent("tiny-sd-reference.json")))
        let io = try SafetensorsFile(path: root.appendingPathComponent("tiny-sd-reference.safetensors").path)
        let pipe = try StableDiffusionPipeline.load(path: root.appendingPathComponent("tiny-sd").path)
        XCTAssertEqual(pipe.schedulerConfig.className, "PNDMScheduler")
        let run = ReferenceRun(prompt: ref.prompt, negativePrompt: ref.negative_prompt, seed: ref.seed, steps: ref.steps,
                               guidanceScale: ref.guidance_scale, width: ref.width, height: ref.height)
        for cls in ref.schedulers {
            guard let request = run.request(scheduler: cls) else { XCTFail("no scheduler for \(cls)"); continue }
            var calls = 0
            let image = try pipe.generate(request) { _ in calls += 1; return true }
            XCTAssertEqual(calls, request.scheduler == .pndm ? ref.steps + 1 : ref.steps, cls)
            try assertMatchesReference(image, io: io, name: cls)
        }
    }

    /// The tiny fixture pipeline and a 64x64, 3-step request for `prompt`.
    func tinyPipeline(prompt: String) throws -> (StableDiffusionPipeline, GenerationRequest) {
        let root = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
        let pipe = try StableDiffusionPipeline.load(path: root.appendingPathComponent("tiny-sd").path)
        var request = GenerationRequest(prompt: prompt)
        request.width = 64
        request.height = 64
        request.steps = 3
        return (pipe, request)
    }

    func testCancelAndBadSizes() throws {
        let (pipe, initial) = try tinyPipeline(prompt: "x")
        var request = initial
        XCTAssertThrowsError(try pipe.generate(request) { $0.call < 1 }) { XCTAssertTrue("\($0)".contains("cancelled")) }
        request.width = 50
        XCTAssertThrowsError(try pipe.generate(request)) { XCTAssertTrue("\($0)".contains("width")) }
    }

    /// Releasing the text encoder changes nothing for prompts already encoded (same image), and encoding a new
    /// prompt afterwards is a clear error, not a crash.
    func testReleasedTextEncoder() throws {
        let (pipe, initial) = try tinyPipeline(prompt: "a red square")
        var request = initial
        let before = try pipe.generate(request)
        pipe.releasesTextEncoder = true
        let again = try pipe.generate(request)
        XCTAssertThrowsError(try pipe.models.textEncoder, "the encoder must be gone")
        XCTAssertEqual(before.pixels, again.pixels)
        request.prompt = "a blue circle"
        XCTAssertThrowsError(try pipe.generate(request)) { XCTAssertTrue("\($0)".contains("released"), "\($0)") }
    }

    /// With VAE tiling, an image no larger than the VAE's tile is decoded whole (the same pixels); a larger one
    /// is decoded in tiles (different pixels near the seams, same size).
    func testVAETilingInThePipeline() throws {
        let (pipe, initial) = try tinyPipeline(prompt: "a red square")
        var request = initial
        let tile = pipe.models.vae.config.sampleSize
        request.steps = 2
        request.width = tile
        request.height = tile
        let whole = try pipe.generate(request)
        pipe.vaeTiling = true
        XCTAssertEqual(try pipe.generate(request).pixels, whole.pixels)
        request.width = 2 * tile
        let tiled = try pipe.generate(request)
        pipe.vaeTiling = false
        let plain = try pipe.generate(request)
        XCTAssertEqual(tiled.width, plain.width)
        XCTAssertNotEqual(tiled.pixels, plain.pixels)
    }
}
