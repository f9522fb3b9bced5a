import DatoCore
import DatoModels
import DatoEvaluation
@testable import DatoPipeline
import Foundation
import XCTest

/// Single-file checkpoints as people have them: fp32/fp16, schedule buffers, position ids, EMA copies,
/// unknown extras, architecture inference.
final class SingleFileTests: XCTestCase {
    let root = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    var folder: String { root.appendingPathComponent("tiny-sd").path }
    func file(_ name: String) -> String { root.appendingPathComponent("single-file/\(name)").path }

    func request() -> GenerationRequest {
        var r = GenerationRequest(prompt: "a small red circle at the top left on a blue background")
        r.width = 48; r.height = 64; r.steps = 6; r.seed = 7; r.scheduler = .euler
        return r
    }

    func testSingleFilesGiveTheFolderImage() throws {
        let reference = try StableDiffusionPipeline.load(path: folder).generate(request())
        for (name, ema) in [("tiny-sd-fp32.safetensors", false), ("tiny-sd-fp16-ema.safetensors", true)] {
            let pipe = try StableDiffusionPipeline.load(path: file(name), configFolder: folder, useEMA: ema)
            let image = try pipe.generate(request())
            XCTAssertGreaterThanOrEqual(ImageMetrics.psnr(image.pixels, reference.pixels), 40, name)
            XCTAssertTrue(pipe.models.warnings.isEmpty, "\(name): \(pipe.models.warnings)")
        }
        // Without --ema the perturbed regular weights are used, and the image differs.
        let plain = try StableDiffusionPipeline.load(path: file("tiny-sd-fp16-ema.safetensors"), configFolder: folder).generate(request())
        XCTAssertLessThan(ImageMetrics.psnr(plain.pixels, reference.pixels), 40)
    }

    /// A `torch.save` checkpoint of the same weights loads identically, read without executing anything.
    func testCkptGivesTheFolderImage() throws {
        let reference = try StableDiffusionPipeline.load(path: folder).generate(request())
        let pipe = try StableDiffusionPipeline.load(path: file("tiny-sd.ckpt"), configFolder: folder)
        XCTAssertEqual(try pipe.generate(request()).pixels, reference.pixels)
        let ckpt = try PickleCheckpoint(path: file("tiny-sd.ckpt"))
        let st = try SafetensorsFile(path: file("tiny-sd-fp32.safetensors"))
        let name = "model.diffusion_model.input_blocks.1.1.proj_in.weight"
        XCTAssertEqual(ckpt.shapes[name], st.entries[name]?.shape)
        XCTAssertEqual(try ckpt.tensor(name).array, try st.tensor(name).array)   // the weights are fp16-exact
    }

    func testForbiddenGlobalIsRefused() {
        XCTAssertThrowsError(try PickleCheckpoint(path: file("forbidden.ckpt"))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("refusing global"), text)
            XCTAssertTrue(text.contains("system"), text)
            XCTAssertTrue(text.contains("forbidden.ckpt"), text)
        }
        XCTAssertThrowsError(try PickleCheckpoint(path: file("tiny-sd-fp32.safetensors"))) { error in
            XCTAssertTrue("\(error)".contains("zip"), "\(error)")
        }
    }

    func testInferenceOnTheTinyCheckpoint() throws {
        let f = try SafetensorsFile(path: file("tiny-sd-fp32.safetensors"))
        let c = try ArchitectureInference.configs(shapes: f.entries.mapValues(\.shape), source: f.path)
        let truth = try StableDiffusionModels.Configs(diffusersFolder: folder)
        XCTAssertEqual(c.unet.blockOutChannels, truth.unet.blockOutChannels)
        XCTAssertEqual(c.unet.layersPerBlock, truth.unet.layersPerBlock)
        XCTAssertEqual(c.unet.downBlockTypes, truth.unet.downBlockTypes)
        XCTAssertEqual(c.unet.upBlockTypes, truth.unet.upBlockTypes)
        XCTAssertEqual(c.unet.crossAttentionDim, truth.unet.crossAttentionDim)
        XCTAssertEqual(c.vae.blockOutChannels, truth.vae.blockOutChannels)
        XCTAssertEqual(c.vae.layersPerBlock, truth.vae.layersPerBlock)
        XCTAssertEqual(c.textEncoder.hiddenSize, truth.textEncoder.hiddenSize)
        XCTAssertEqual(c.textEncoder.numHiddenLayers, truth.textEncoder.numHiddenLayers)
        XCTAssertEqual(c.textEncoder.vocabSize, truth.textEncoder.vocabSize)
    }

    /// The real SD 1.5 single-file layout (names and shapes written by the fixtures script from diffusers'
    /// SD 1.5 modules) infers SD 1.5's configs.
    func testInferenceOnTheSD15Layout() throws {
        let shapes = try JSONDecoder().decode([String: [Int]].self,
                                              from: Data(contentsOf: root.appendingPathComponent("sd15-single-file-shapes.json")))
        let c = try ArchitectureInference.configs(shapes: shapes, source: "sd15 shapes")
        var sd = StableDiffusionModels.Configs()
        sd.vae.sampleSize = 512   // SD 1.5's published VAE config (the 512 px tile of tiled decoding)
        XCTAssertEqual(c.unet, sd.unet)
        XCTAssertEqual(c.vae, sd.vae)
        XCTAssertEqual(c.textEncoder, sd.textEncoder)
        let layout = SingleFileLayout(names: shapes.keys)
        XCTAssertTrue(layout.unknown.isEmpty, "\(layout.unknown)")
        XCTAssertEqual(layout.ignored.count, 13)   // 12 schedule buffers + position_ids
        // Every SD 1.5 key maps into the diffusers tree.
        for key in layout.unet { XCTAssertNotNil(LDMKeyMap.unet(String(key.dropFirst(LDMKeyMap.unetPrefix.count)), layersPerBlock: 2), key) }
        for key in layout.vae { XCTAssertNotNil(LDMKeyMap.vae(String(key.dropFirst(LDMKeyMap.vaePrefix.count)), levels: 4), key) }
    }

    func testUnknownTensorsAreWarningsAndMissingOnesErrors() throws {
        let src = try SafetensorsFile(path: file("tiny-sd-fp32.safetensors"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-sf-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let floats = src.names.filter { [.F32, .F16].contains(src.entries[$0]?.dtype) }
        var tensors = try floats.map { ($0, try src.tensor($0)) }
        tensors.append(("lora_te_text_model_encoder_layers_0.alpha", Tensor(shape: [1])))
        try SafetensorsWriter.write(tensors, to: "\(dir)/extra.safetensors")
        let configs = try StableDiffusionModels.Configs(diffusersFolder: folder)
        let models = try StableDiffusionModels(singleFile: "\(dir)/extra.safetensors", configs: configs)
        XCTAssertEqual(models.warnings.count, 1)
        XCTAssertTrue(models.warnings[0].contains("lora_te_text_model_encoder_layers_0.alpha"), models.warnings[0])
        try SafetensorsWriter.write(tensors.filter { !$0.0.hasSuffix("out.2.weight") }, to: "\(dir)/missing.safetensors")
        XCTAssertThrowsError(try StableDiffusionModels(singleFile: "\(dir)/missing.safetensors", configs: configs)) { error in
            XCTAssertTrue("\(error)".contains("conv_out.weight"), "\(error)")
        }
    }
}
