import DatoCore
import DatoModels
import DatoEvaluation
@testable import DatoPipeline
import Foundation
import XCTest

/// The tiny pipeline saved in every weight form diffusers reads (tools/fixtures/folder_forms_fixtures.py,
/// which checks each form with diffusers' `from_pretrained`): the same weights and the same image as the
/// plain folder, and diffusers' choice among forms and variants.
final class FolderFormsTests: XCTestCase {
    let root = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    var tiny: String { root.appendingPathComponent("tiny-sd").path }
    func form(_ name: String) -> String { root.appendingPathComponent("folder-forms/\(name)").path }
    static let components: [(String, WeightsNaming)] = [("unet", .diffusers), ("vae", .diffusers), ("text_encoder", .transformers)]

    func request() -> GenerationRequest {
        var r = GenerationRequest(prompt: "a small red circle at the top left on a blue background")
        r.width = 48; r.height = 64; r.steps = 3; r.seed = 7; r.scheduler = .euler
        return r
    }

    /// The chosen weights of a component of `folder`.
    func weights(_ folder: String, _ component: String, _ naming: WeightsNaming, variant: String? = nil) throws -> ComponentWeights {
        try ComponentWeights.find(in: "\(folder)/\(component)", naming: naming, variant: variant)
    }

    /// Every floating-point tensor of `a` equals `b`'s (both read as fp32; the fixtures are fp16-exact).
    func assertSameTensors(_ a: CheckpointContents, _ b: CheckpointContents, skipping: Set<String> = [], _ label: String) throws {
        XCTAssertEqual(Set(a.shapes.keys).subtracting(skipping), Set(b.shapes.keys), label)
        for name in b.shapes.keys.sorted() {
            XCTAssertEqual(a.shapes[name], b.shapes[name], "\(label): \(name)")
            XCTAssertEqual(try a.tensor(name).array, try b.tensor(name).array, "\(label): \(name)")
        }
    }

    func testFormsAreFoundAsDiffusersNamesThem() throws {
        let chosen = try Self.components.map { try weights(form("pickles"), $0.0, $0.1).fileName }
        XCTAssertEqual(chosen, ["diffusion_pytorch_model.bin.index.json", "diffusion_pytorch_model.bin", "pytorch_model.bin"])
        XCTAssertTrue(try weights(form("pickles"), "vae", .diffusers).open() is LegacyTorchCheckpoint)
        XCTAssertTrue(try weights(form("pickles"), "text_encoder", .transformers).open() is PickleCheckpoint)
        let sharded = try Self.components.map { try weights(form("sharded"), $0.0, $0.1).fileName }
        XCTAssertEqual(sharded, ["diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model.safetensors.index.json",
                                 "model.safetensors.index.json"])
        let variant = try weights(form("sharded"), "unet", .diffusers, variant: "fp16")
        XCTAssertEqual(variant.fileName, "diffusion_pytorch_model.safetensors.index.fp16.json")
        XCTAssertEqual(try variant.files().count, 4)   // the index and three shards
    }

    /// Each form holds exactly the plain folder's tensors (the `.bin` text encoder also its int64 position ids).
    func testEveryFormHasThePlainWeights() throws {
        for name in ["pickles", "sharded"] {
            for (component, naming) in Self.components {
                let plain = try weights(tiny, component, naming).open()
                let other = try weights(form(name), component, naming).open()
                try assertSameTensors(other, plain, skipping: ["text_model.embeddings.position_ids"], "\(name)/\(component)")
            }
        }
    }

    /// One generation per form gives the plain folder's image, pixel for pixel.
    func testEveryFormGivesThePlainImage() throws {
        let reference = try StableDiffusionPipeline.load(path: tiny).generate(request())
        for name in ["pickles", "sharded"] {
            let pipe = try StableDiffusionPipeline.load(path: form(name))
            let image = try pipe.generate(request())
            XCTAssertEqual(image.pixels, reference.pixels, name)
            XCTAssertEqual(pipe.models.warnings + pipe.models.notes, [], name)
        }
    }

    /// With --variant fp16 the sharded folder's UNet comes from its (perturbed) fp16 files, the other
    /// components from their plain files with a warning each (diffusers loads the same mixture); without it,
    /// the plain files.
    func testVariantChoosesTheVariantFiles() throws {
        let reference = try StableDiffusionPipeline.load(path: tiny).generate(request())
        let pipe = try StableDiffusionPipeline.load(path: form("sharded"), variant: "fp16")
        XCTAssertLessThan(ImageMetrics.psnr(try pipe.generate(request()).pixels, reference.pixels), 40)
        XCTAssertEqual(pipe.models.warnings.count, 2, "\(pipe.models.warnings)")
        XCTAssertTrue(pipe.models.warnings.allSatisfy { $0.contains("no fp16 variant") }, "\(pipe.models.warnings)")
        let name = "conv_in.weight"
        let perturbed = try weights(form("sharded"), "unet", .diffusers, variant: "fp16").open().tensor(name).array
        XCTAssertNotEqual(perturbed, try weights(tiny, "unet", .diffusers).open().tensor(name).array)
    }

    /// A folder with only fp16 files loads them with a note, and silently when --variant fp16 is given; a
    /// variant no component has is an error, as in diffusers; a single file takes no variant.
    func testFP16FallbackAndMissingVariant() throws {
        let plain = try StableDiffusionModels(diffusersFolder: tiny)
        XCTAssertEqual(plain.notes.count, 3)
        XCTAssertTrue(plain.notes.allSatisfy { $0.contains("using the fp16 variant") }, "\(plain.notes)")
        let asked = try StableDiffusionModels(diffusersFolder: tiny, variant: "fp16")
        XCTAssertEqual(asked.notes + asked.warnings, [])
        XCTAssertThrowsError(try StableDiffusionModels(diffusersFolder: tiny, variant: "ema")) { error in
            XCTAssertTrue("\(error)".contains("no component has weights of the variant 'ema'"), "\(error)")
            XCTAssertTrue("\(error)".contains(self.tiny), "\(error)")
        }
        XCTAssertThrowsError(try StableDiffusionModels(diffusersFolder: tiny, variant: "../fp16")) { error in
            XCTAssertTrue("\(error)".contains("variant '../fp16'"), "\(error)")
        }
        let single = root.appendingPathComponent("single-file/tiny-sd-fp32.safetensors").path
        XCTAssertThrowsError(try StableDiffusionPipeline.load(path: single, variant: "fp16")) { error in
            XCTAssertTrue("\(error)".contains("single file"), "\(error)")
        }
    }

    /// The tokenizer as transformers 5 saves it (tokenizer.json + tokenizer_config.json only) gives the same
    /// ids and image as vocab.json/merges.txt.
    func testTokenizerJSONOnlyFolder() throws {
        let reference = try CLIPTokenizer(folder: "\(tiny)/tokenizer")
        let tokenizer = try CLIPTokenizer(folder: "\(form("tokenizer-json"))/tokenizer")
        for prompt in [request().prompt, "Hello, World! 123 <|endoftext|> x", "", "a photo of an astronaut riding a horse on mars"] {
            XCTAssertEqual(tokenizer(prompt).ids, reference(prompt).ids, prompt)
        }
        let plain = try StableDiffusionPipeline.load(path: tiny)
        let pipe = StableDiffusionPipeline(models: try StableDiffusionModels(diffusersFolder: tiny), tokenizer: tokenizer,
                                           schedulerConfig: plain.schedulerConfig, modelName: "tokenizer-json")
        XCTAssertEqual(try pipe.generate(request()).pixels, try plain.generate(request()).pixels)
    }
}
