import DatoCore
import DatoDemo
import DatoModels
import DatoPipeline
import Foundation
import XCTest

/// A checkpoint known only by its tensor names and shapes (the layouts written by layout_fixtures.py).
final class ShapesOnlyCheckpoint: CheckpointContents {
    let path: String
    let shapes: [String: [Int]]
    init(path: String, shapes: [String: [Int]]) { self.path = path; self.shapes = shapes }
    func tensor(_ name: String) throws -> Tensor { throw ModelError.input("\(name): shapes only") }
    func tensor(_ name: String, rows: Range<Int>) throws -> Tensor { throw ModelError.input("\(name): shapes only") }
}

/// The full SD 1.5 and SD 2.1 single-file layouts (names and shapes of diffusers' networks built from the
/// published configs, converted to the original names and checked by diffusers' own converters) map
/// completely onto the diffusers layout and infer exactly the published configs.
final class ModelLayoutTests: XCTestCase {
    let root = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/layouts")

    struct Layout: Decodable {
        let family: String
        let prediction_type: String
        let single_file: [String: [Int]]
        let diffusers: [String: [String: [Int]]]
    }

    func layout(_ name: String) throws -> (Layout, StableDiffusionModels.Configs) {
        let data = try Data(contentsOf: root.appendingPathComponent(name))
        let layout = try JSONDecoder().decode(Layout.self, from: data)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let config = try XCTUnwrap(doc["config"] as? [String: Any])
        func part(_ key: String) throws -> Data { try JSONSerialization.data(withJSONObject: XCTUnwrap(config[key])) }
        var c = StableDiffusionModels.Configs()
        c.unet = try JSONDecoder().decode(UNetConfig.self, from: part("unet"))
        c.vae = try JSONDecoder().decode(VAEConfig.self, from: part("vae"))
        c.textEncoder = try JSONDecoder().decode(CLIPTextConfig.self, from: part("text_encoder"))
        return (layout, c)
    }

    /// Shapes equal up to a trailing 1x1 (the VAE's attention projections are 1x1 convolutions in ldm files).
    func sameShape(_ a: [Int]?, _ b: [Int]?) -> Bool {
        guard let a, let b else { return false }
        func squeezed(_ s: [Int]) -> [Int] { s.count == 4 && s[2] == 1 && s[3] == 1 ? Array(s[0..<2]) : s }
        return squeezed(a) == squeezed(b)
    }

    func assertMaps(_ source: TensorSource, onto expected: [String: [Int]], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let got = source.shapes ?? [:]
        XCTAssertEqual(Set(got.keys), Set(expected.keys), "\(what): names differ", file: file, line: line)
        for (name, shape) in expected where !sameShape(got[name], shape) {
            XCTFail("\(what) '\(name)': \(got[name] ?? []) for \(shape)", file: file, line: line)
        }
    }

    func checkLayout(_ name: String, family: ModelFamily, text: TextEncoderLayout) throws {
        let (layout, published) = try layout(name)
        let file = ShapesOnlyCheckpoint(path: name, shapes: layout.single_file)
        // Every tensor is a network's or knowingly ignored.
        let split = SingleFileLayout(names: layout.single_file.keys)
        XCTAssertTrue(split.unknown.isEmpty, "\(split.unknown)")
        XCTAssertTrue(split.ema.isEmpty)
        // Family, text layout and prediction type (diffusers' rule: a safetensors file has no global_step).
        let described = SingleFileDescription(file)
        XCTAssertEqual(described.family, family)
        XCTAssertEqual(described.family.rawValue, layout.family)
        XCTAssertEqual(described.textLayout, text)
        XCTAssertEqual(described.prediction.type.rawValue, layout.prediction_type)
        // Exactly the published configs.
        let inferred = try ArchitectureInference.checkedConfigs(shapes: layout.single_file, source: name)
        assertPublished(inferred, published)
        // Every network tensor maps onto exactly the diffusers layout.
        let l = inferred.unet.layersPerBlock, levels = inferred.vae.blockOutChannels.count
        let unet = RenamedSource(file) {
            $0.hasPrefix(LDMKeyMap.unetPrefix) ? LDMKeyMap.unet(String($0.dropFirst(LDMKeyMap.unetPrefix.count)), layersPerBlock: l) : nil
        }
        assertMaps(unet, onto: layout.diffusers["unet"] ?? [:], "UNet")
        let vae = RenamedSource(file) {
            $0.hasPrefix(LDMKeyMap.vaePrefix) ? LDMKeyMap.vae(String($0.dropFirst(LDMKeyMap.vaePrefix.count)), levels: levels) : nil
        }
        assertMaps(vae, onto: layout.diffusers["vae"] ?? [:], "VAE")
        let textSource: TensorSource = text == .openCLIP
            ? try SlicedSource.openCLIP(file, config: inferred.textEncoder)
            : RenamedSource(file) {
                guard $0.hasPrefix(LDMKeyMap.textPrefix) else { return nil }
                let name = LDMKeyMap.textEncoder(String($0.dropFirst(LDMKeyMap.textPrefix.count)))
                return LDMKeyMap.isTextEncoderBuffer(name) ? nil : name
            }
        assertMaps(textSource, onto: layout.diffusers["text_encoder"] ?? [:], "text encoder")
    }

    func testSD15LayoutMapsCompletelyAndInfersThePublishedConfig() throws {
        try checkLayout("sd15-layout.json", family: .sd1, text: .clip)
    }

    /// SD 2.1: OpenCLIP's 24 resblocks of which 23 run, q/k/v split out of in_proj, 64-wide heads per level
    /// ([5, 10, 20, 20]), upcast attention, 768 px, v-prediction.
    func testSD21LayoutMapsCompletelyAndInfersThePublishedConfig() throws {
        try checkLayout("sd21-layout.json", family: .sd2, text: .openCLIP)
        let (layout, _) = try layout("sd21-layout.json")
        XCTAssertEqual(ArchitectureInference.openCLIPResblocks(layout.single_file), 24)
        let c = try ArchitectureInference.configs(shapes: layout.single_file, source: "sd21", prediction: .epsilon)
        XCTAssertEqual(c.unet.sampleSize, 64)   // an epsilon SD 2.x file is a 512 px base model
        XCTAssertEqual(c.vae.sampleSize, 512)
    }

    /// An SD 2.1 file whose text encoder was saved under transformers' names (23 layers, no in_proj) is still
    /// SD 2.x by its 1024-wide cross-attention, and infers the same published configs (GELU, per-level heads).
    func testSD21WithTransformersTextNamesInfersThePublishedConfig() throws {
        let (layout, published) = try layout("sd21-layout.json")
        var shapes = layout.single_file.filter { !$0.key.hasPrefix(OpenCLIPKeyMap.prefix) }
        for (name, shape) in layout.diffusers["text_encoder"] ?? [:] { shapes[LDMKeyMap.textPrefix + "text_model." + name] = shape }
        XCTAssertEqual(ModelFamily.of(singleFile: shapes), .sd2)
        assertPublished(try ArchitectureInference.checkedConfigs(shapes: shapes, source: "sd21-clip-names"), published)
    }

    /// Inferred configs equal the published ones (the text encoder's bos/eos ids only choose the pooled row,
    /// which SD does not use).
    func assertPublished(_ inferred: StableDiffusionModels.Configs, _ published: StableDiffusionModels.Configs,
                         file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(inferred.unet, published.unet, file: file, line: line)
        XCTAssertEqual(inferred.vae, published.vae, file: file, line: line)
        var t = inferred.textEncoder
        t.bosTokenId = published.textEncoder.bosTokenId
        t.eosTokenId = published.textEncoder.eosTokenId
        XCTAssertEqual(t, published.textEncoder, file: file, line: line)
    }

    // MARK: refusals

    func assertRefused(_ body: () throws -> Void, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let text = "\(error)"
            for part in parts + ["; swift-dato runs SD 1.x and SD 2.x (StableDiffusionPipeline)"] {
                XCTAssertTrue(text.contains(part), "'\(part)' not in: \(text)", file: file, line: line)
            }
        }
    }

    func testSDXLSingleFileIsRefused() throws {
        let shapes = try JSONDecoder().decode([String: [Int]].self, from: Data(contentsOf: root.appendingPathComponent("sdxl-single-file-shapes.json")))
        assertRefused({ try UnsupportedArchitecture.check(singleFile: shapes, path: "sdxl.safetensors") },
                      ["sdxl.safetensors: this is an SD-XL model (found conditioner.embedders."])
        // Through the loader, before any weight is read: a file with SD-XL's names and tiny tensors.
        let dir = try temporaryFolder()
        let path = "\(dir)/sdxl.safetensors"
        let names = ["conditioner.embedders.1.model.positional_embedding", "model.diffusion_model.label_emb.0.0.weight",
                     "model.diffusion_model.input_blocks.0.0.weight"]
        try SafetensorsWriter.write(names.map { ($0, Tensor(shape: [2, 2])) }, to: path)
        assertRefused({ _ = try StableDiffusionPipeline.load(path: path) }, ["\(path): this is an SD-XL model (found conditioner.embedders.1"])
        // Without the text encoders, the added (text, time) embedding still gives it away.
        let unetOnly = shapes.filter { !$0.key.hasPrefix("conditioner.") }
        assertRefused({ try UnsupportedArchitecture.check(singleFile: unetOnly, path: "x") }, ["found model.diffusion_model.label_emb.0.0"])
    }

    func testInpaintingAndTransformerSingleFilesAreRefused() throws {
        var (layout, _) = try layout("sd15-layout.json")
        var shapes = layout.single_file
        shapes["model.diffusion_model.input_blocks.0.0.weight"] = [320, 9, 3, 3]
        assertRefused({ try UnsupportedArchitecture.check(singleFile: shapes, path: "inpaint.ckpt") },
                      ["inpaint.ckpt: this is an inpainting model (found in_channels 9 in 'model.diffusion_model.input_blocks.0.0.weight'"])
        for (key, what) in [("model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight", "an SD 3 model"),
                            ("model.diffusion_model.double_blocks.0.img_attn.qkv.weight", "a Flux model"),
                            ("depth_model.model.pretrained.act_postprocess1.0.weight", "an SD 2.x depth-to-image model")] {
            assertRefused({ try UnsupportedArchitecture.check(singleFile: [key: [3, 3]], path: "m") }, ["this is \(what)", key])
        }
        layout = try self.layout("sd21-layout.json").0
        XCTAssertNoThrow(try UnsupportedArchitecture.check(singleFile: layout.single_file, path: "sd21"))
    }

    func testSDXLAndOtherFoldersAreRefused() throws {
        let sdxl = root.appendingPathComponent("sdxl-folder").path
        assertRefused({ _ = try StableDiffusionPipeline.load(path: sdxl) },
                      ["\(sdxl): this is an SD-XL model (found text_encoder_2 in model_index.json)"])
        // A copy whose model_index.json claims StableDiffusionPipeline: the UNet config still gives it away.
        let dir = try temporaryFolder()
        let copy = "\(dir)/sdxl"
        try FileManager.default.copyItem(atPath: sdxl, toPath: copy)
        func index(_ json: String) throws { try Data(json.utf8).write(to: URL(fileURLWithPath: "\(copy)/model_index.json")) }
        try index(#"{"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}"#)
        assertRefused({ _ = try StableDiffusionPipeline.load(path: copy) },
                      ["this is an SD-XL model (found addition_embed_type 'text_time' in unet/config.json)"])
        try index(#"{"_class_name": "FluxPipeline", "transformer": ["diffusers", "FluxTransformer2DModel"]}"#)
        assertRefused({ _ = try StableDiffusionPipeline.load(path: copy) }, ["this is a transformer model (FluxPipeline) (found transformer in model_index.json)"])
        try index(#"{"_class_name": "KandinskyPipeline"}"#)
        assertRefused({ _ = try StableDiffusionPipeline.load(path: copy) }, ["this is a KandinskyPipeline model (found _class_name 'KandinskyPipeline' in model_index.json)"])
        try index(#"{"_class_name": "StableDiffusionInpaintPipeline"}"#)
        assertRefused({ _ = try StableDiffusionPipeline.load(path: copy) }, ["this is an inpainting model (found _class_name 'StableDiffusionInpaintPipeline'"])
        // A 9-channel UNet in a folder that names no other class.
        try index(#"{"_class_name": "StableDiffusionPipeline"}"#)
        try Data(#"{"_class_name": "UNet2DConditionModel", "in_channels": 9, "out_channels": 4}"#.utf8)
            .write(to: URL(fileURLWithPath: "\(copy)/unet/config.json"))
        assertRefused({ _ = try StableDiffusionPipeline.load(path: copy) }, ["this is an inpainting model (found in_channels 9 in unet/config.json)"])
        // The SD 1.x and SD 2.x folders pass (the bundled demo model too).
        let fixtures = root.deletingLastPathComponent()
        for folder in [fixtures.appendingPathComponent("tiny-sd").path, fixtures.appendingPathComponent("sd2/tiny-sd2").path,
                       try DemoModel.folder()] {
            XCTAssertNoThrow(try UnsupportedArchitecture.check(folder: folder), folder)
        }
    }

    func temporaryFolder() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-layout-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }
}
