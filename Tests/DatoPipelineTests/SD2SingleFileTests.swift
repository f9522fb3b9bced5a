import DatoCore
import DatoModels
@testable import DatoPipeline
import Foundation
import XCTest

/// The tiny SD 2.x pipeline (sd2_fixtures.py) as an original single file: an OpenCLIP-layout text encoder
/// with one more resblock than SD 2 runs, ldm-named UNet and VAE. diffusers' `from_single_file` checked that
/// the file holds the folder's weights; here the engine must read the same networks from it. (The images
/// against diffusers' are SD2EndToEndTests.testSingleFileMatchesDiffusers.)
final class SD2SingleFileTests: XCTestCase {
    let root = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/sd2")
    var folder: String { root.appendingPathComponent("tiny-sd2").path }
    var file: String { root.appendingPathComponent("tiny-sd2-openclip.safetensors").path }

    /// transformers' text states (from the folder) for the reference prompt's ids equal the single file's text
    /// encoder's: q/k/v split out of in_proj, the extra resblock left out, ln_final after the last layer used.
    func testOpenCLIPTextEncoderGivesTransformersTextStates() throws {
        let configs = try StableDiffusionModels.Configs(diffusersFolder: folder)
        let models = try StableDiffusionModels(singleFile: file, configs: configs)
        XCTAssertTrue(models.warnings.isEmpty, "\(models.warnings)")
        XCTAssertEqual(models.singleFile?.family, .sd2)
        XCTAssertEqual(models.singleFile?.textLayout, .openCLIP)
        XCTAssertEqual(models.singleFile?.textLayersHeld, 3)
        let io = try SafetensorsFile(path: root.appendingPathComponent("reference.safetensors").path)
        let ids = try io.tensor("prompt.input_ids").array.map { Int($0) }
        let expected = try io.tensor("prompt.text_states")
        let states = try models.textEncoder([ids]).lastHiddenState
        XCTAssertEqual(states.shape, expected.shape)
        var worst: Float = 0
        for i in 0..<expected.count { worst = max(worst, abs(states[i] - expected[i])) }
        print("SD 2.x single file: text states max abs error \(worst) (max |state| \(expected.maxAbs))")
        XCTAssertLessThanOrEqual(worst, 1e-4 * max(1, expected.maxAbs))
    }

    /// The UNet and VAE read from the single file compute exactly what the folder's do.
    func testUNetAndVAEEqualTheFolders() throws {
        let configs = try StableDiffusionModels.Configs(diffusersFolder: folder)
        let single = try StableDiffusionModels(singleFile: file, configs: configs)
        let reference = try StableDiffusionModels(diffusersFolder: folder)
        let sample = try RandomSource(seed: 3).load("sample", shape: [1, 8, 6, 4])
        let context = try RandomSource(seed: 4).load("context", shape: [1, 77, 32])
        let a = try single.unet(sample, timesteps: [501], context: context)
        let b = try reference.unet(sample, timesteps: [501], context: context)
        XCTAssertEqual(a.array, b.array)
        XCTAssertEqual(try single.vae.decode(sample).array, try reference.vae.decode(sample).array)
    }

    /// Without --config an SD 2.x file runs SD 2.1's scheduler (DDIM) with diffusers' prediction rule; the
    /// flag and a --config folder's scheduler config say otherwise.
    func testPredictionTypeReachesTheSchedulerConfig() throws {
        let described = SingleFileDescription(try SafetensorsFile(path: file))
        XCTAssertEqual(described.prediction.type, .v)
        let inferred = SingleFileScheduler.config(for: described)
        XCTAssertEqual(inferred.className, "DDIMScheduler")
        XCTAssertEqual(inferred.predictionType, "v_prediction")
        let flagged = SingleFileDescription(try SafetensorsFile(path: file), prediction: .epsilon)
        XCTAssertEqual(SingleFileScheduler.config(for: flagged).predictionType, "epsilon")
        XCTAssertEqual(flagged.prediction.origin, "--prediction-type")
        // SD 1.x single files keep SD 1.x's PNDM config, predicting the noise.
        let sd1 = SingleFileDescription(try PickleCheckpoint(path: Bundle.module.resourceURL!.appendingPathComponent("Fixtures/single-file/tiny-sd.ckpt").path))
        XCTAssertEqual(sd1.family, .sd1)
        XCTAssertEqual(SingleFileScheduler.config(for: sd1), {
            var c = SchedulerConfig.sd15
            c.predictionType = "epsilon"
            return c
        }())
        // Through the loader: --config's scheduler config, overridden by the flag.
        let fromFolder = try StableDiffusionPipeline.load(path: file, configFolder: folder)
        XCTAssertEqual(fromFolder.schedulerConfig.predictionType, "v_prediction")
        let overridden = try StableDiffusionPipeline.load(path: file, configFolder: folder, predictionType: .epsilon)
        XCTAssertEqual(overridden.schedulerConfig.predictionType, "epsilon")
        XCTAssertEqual(overridden.schedulerConfig.className, "DDIMScheduler")
        XCTAssertEqual(PredictionType(argument: "v"), .v)
        XCTAssertEqual(PredictionType(argument: "v_prediction"), .v)
        XCTAssertEqual(PredictionType(argument: "epsilon"), .epsilon)
        XCTAssertNil(PredictionType(argument: "sample"))
    }

    /// Without a tokenizer folder, an SD 2.x file gets the bundled vocabulary padded with "!" as SD 2's tokenizer
    /// pads (the ids are TokenizerFolderTests' full-sd2 form), an SD 1.x file the end-of-text padding; without a
    /// scheduler config, the family's (SD 2.x: v-prediction). (The tiny model's shapes need its configs: it has
    /// fewer channels than SD's 32 norm groups; a --config folder with only the three config.json files.)
    func testBuiltInTokenizerPadsAsTheFamily() throws {
        let sd2 = try StableDiffusionPipeline.load(path: file, configFolder: try configsOnly(folder, "sd2"))
        XCTAssertEqual(sd2.tokenizer.padId, 0)
        XCTAssertEqual(sd2.schedulerConfig.predictionType, "v_prediction")
        let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
        let sd1 = try StableDiffusionPipeline.load(path: fixtures.appendingPathComponent("single-file/tiny-sd-fp32.safetensors").path,
                                                   configFolder: try configsOnly(fixtures.appendingPathComponent("tiny-sd").path, "sd1"))
        XCTAssertEqual(sd1.tokenizer.padId, sd1.tokenizer.eosId)
        XCTAssertEqual(sd1.schedulerConfig.predictionType, "epsilon")
    }

    /// A temporary folder with only the unet, vae and text_encoder config.json files of `source`.
    func configsOnly(_ source: String, _ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("configs-only-\(name)-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        for part in ["unet", "vae", "text_encoder"] {
            try FileManager.default.createDirectory(atPath: "\(dir)/\(part)", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "\(source)/\(part)/config.json", toPath: "\(dir)/\(part)/config.json")
        }
        return dir
    }

    /// diffusers' rule for SD 2.x files: global_step 875000 is SD 2.0 base (epsilon, 512 px); any other is
    /// the 768 px v-prediction model. `global_step` is read from a torch.save checkpoint.
    func testGlobalStepRule() throws {
        XCTAssertEqual(PredictionChoice.inferred(family: .sd2, globalStep: 875_000).type, .epsilon)
        XCTAssertEqual(PredictionChoice.inferred(family: .sd2, globalStep: 110_000).type, .v)
        XCTAssertEqual(PredictionChoice.inferred(family: .sd2, globalStep: nil).type, .v)
        XCTAssertEqual(PredictionChoice.inferred(family: .sd1, globalStep: 875_000).type, .epsilon)
        let ckpt = try PickleCheckpoint(path: Bundle.module.resourceURL!.appendingPathComponent("Fixtures/single-file/tiny-sd.ckpt").path)
        XCTAssertEqual(ckpt.globalStep, 1000)
        XCTAssertNil(try SafetensorsFile(path: file).globalStep)
    }

    // MARK: hostile OpenCLIP layouts

    /// The single file with `changes` (a new tensor, a replacement, or nil: drop it), written to a temporary file.
    func modified(_ changes: [String: Tensor?]) throws -> String {
        let src = try SafetensorsFile(path: file)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-sd2-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        var tensors: [(String, Tensor)] = []
        for name in src.names {
            if let change = changes[name] {
                if let t = change { tensors.append((name, t)) }
            } else {
                tensors.append((name, try src.tensor(name)))
            }
        }
        for (name, change) in changes.sorted(by: { $0.key < $1.key }) where src.entries[name] == nil {
            if let t = change { tensors.append((name, t)) }
        }
        let path = "\(dir)/hostile.safetensors"
        try SafetensorsWriter.write(tensors, to: path)
        return path
    }

    func assertOneError(_ body: () throws -> Void, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let text = "\(error)"
            for part in parts { XCTAssertTrue(text.contains(part), "'\(part)' not in: \(text)", file: file, line: line) }
            if case ModelError.weights(_, let problems) = error { XCTAssertEqual(problems.count, 1, text, file: file, line: line) }
        }
    }

    /// Stacked projections whose rows do not split into q, k and v of the text encoder's width, and
    /// embeddings of another width, give one error naming the file and the tensor, with or without --config.
    func testHostileOpenCLIPFilesGiveOneClearError() throws {
        let p = "cond_stage_model.model."
        let configs = try StableDiffusionModels.Configs(diffusersFolder: folder)
        let notByThree = try modified([p + "transformer.resblocks.1.attn.in_proj_weight": Tensor(shape: [95, 32])])
        assertOneError({ _ = try StableDiffusionModels(singleFile: notByThree, configs: configs) },
                       [notByThree, "transformer.resblocks.1.attn.in_proj_weight' has shape [95, 32]", "not a multiple of 3"])
        let narrowBias = try modified([p + "transformer.resblocks.0.attn.in_proj_bias": Tensor(shape: [48])])
        assertOneError({ _ = try StableDiffusionModels(singleFile: narrowBias, configs: configs) },
                       [narrowBias, "in_proj_bias' has shape [48]", "expected [96]"])
        let wide = try modified([p + "transformer.resblocks.0.attn.in_proj_weight": Tensor(shape: [96, 40])])
        assertOneError({ _ = try StableDiffusionModels(singleFile: wide, configs: configs) }, ["in_proj_weight' has shape [96, 40]", "expected [96, 32]"])
        // Inferring the architecture: the first resblock's projection and the embeddings' widths are checked.
        assertOneError({ _ = try StableDiffusionModels(singleFile: wide) }, [wide, "resblocks.0.attn.in_proj_weight' has shape [96, 40]"])
        let positions = try modified([p + "positional_embedding": Tensor(shape: [77, 16])])
        assertOneError({ _ = try StableDiffusionModels(singleFile: positions) }, [positions, "positional_embedding' has shape [77, 16]: expected width 32"])
        let rank3 = try modified([p + "transformer.resblocks.1.attn.in_proj_weight": Tensor(shape: [3, 32, 32])])
        assertOneError({ _ = try StableDiffusionModels(singleFile: rank3, configs: configs) }, ["in_proj_weight' has shape [3, 32, 32]"])
        let stray = try modified([p + "transformer.resblocks.0.attn.bogus": Tensor(shape: [2])])
        assertOneError({ _ = try StableDiffusionModels(singleFile: stray, configs: configs) }, ["unknown OpenCLIP text encoder key", "attn.bogus"])
        let oneBlock = try modified([p + "transformer.resblocks.1.mlp.c_fc.weight": nil])
        assertOneError({ _ = try StableDiffusionModels(singleFile: oneBlock) }, ["1 resblock(s)", "at least 2"])
    }
}
