import DatoCore
@testable import DatoModels
import Foundation
import XCTest

/// Hostile and extreme config values (issue 20) are refused when the config is decoded, with an error naming the
/// file and the field, before anything is allocated; a config describing a larger model than its weights file is
/// refused before the model is built.
final class ConfigValidationTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dato-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// The fixture config `model/config.json` with `changes` applied, written to the temporary folder.
    func hostileConfig(_ model: String, _ changes: [String: Any]) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(model, "config.json")))
        guard var json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw XCTSkip("fixture config is not a JSON object")
        }
        for (k, v) in changes { json[k] = v }
        let path = "\(folder)/\(model)-\(UUID().uuidString).json"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Asserts that `load` throws `ModelError.config` naming `path` and `field`.
    func assertRefused(_ field: String, _ path: String, _ what: String, file: StaticString = #filePath, line: UInt = #line,
                       _ load: (String) throws -> Void) {
        XCTAssertThrowsError(try load(path), what, file: file, line: line) { error in
            guard case let ModelError.config(f, fld, _) = error else {
                return XCTFail("\(what): expected a config error, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(f, path, what, file: file, line: line)
            XCTAssertEqual(fld, field, "\(what): \(error)", file: file, line: line)
        }
    }

    func testHostileUNetValuesAreRefused() throws {
        let cases: [(String, Any, String)] = [
            ("norm_num_groups", 0, "norm_num_groups"),
            ("norm_num_groups", -8, "norm_num_groups"),
            ("attention_head_dim", 0, "attention_head_dim"),
            ("attention_head_dim", [2, 0], "attention_head_dim[1]"),
            ("attention_head_dim", [2, 2, 2], "attention_head_dim"),
            ("num_attention_heads", 0, "num_attention_heads"),
            ("num_attention_heads", 3, "num_attention_heads"),
            ("in_channels", -4, "in_channels"),
            ("out_channels", 0, "out_channels"),
            ("cross_attention_dim", -1, "cross_attention_dim"),
            ("layers_per_block", -1, "layers_per_block"),
            ("layers_per_block", 0, "layers_per_block"),
            ("block_out_channels", [1_000_000_000, 32], "block_out_channels[0]"),
            ("block_out_channels", Array(repeating: 32, count: 40), "block_out_channels"),
            ("block_out_channels", [Int.max, 32], "block_out_channels[0]"),
            ("norm_eps", -1e-5, "norm_eps"),
            ("norm_eps", 0, "norm_eps"),
            ("transformer_layers_per_block", 100_000, "transformer_layers_per_block"),
            ("transformer_layers_per_block", [1, -1], "transformer_layers_per_block[1]"),
            ("sample_size", -8, "sample_size"),
            ("freq_shift", 1_000_000, "freq_shift"),
            // Architecture options this engine does not implement: refused, not read as an SD 1.x UNet.
            ("conv_in_kernel", 1, "conv_in_kernel"),
            ("addition_embed_type", "text_time", "addition_embed_type"),
            ("class_embed_type", "timestep", "class_embed_type"),
            ("resnet_out_scale_factor", 0.5, "resnet_out_scale_factor"),
            ("dual_cross_attention", true, "dual_cross_attention"),
            ("attention_type", "gated", "attention_type"),
            ("time_cond_proj_dim", 256, "time_cond_proj_dim"),
        ]
        for (key, value, field) in cases {
            let path = try hostileConfig("unet-tiny2", [key: value])
            assertRefused(field, path, "\(key) = \(value)") { _ = try UNetConfig.load($0) }
        }
    }

    func testHostileTextEncoderValuesAreRefused() throws {
        let cases: [(String, Any, String)] = [
            ("intermediate_size", 1_000_000_000, "intermediate_size"),
            ("max_position_embeddings", 1_000_000_000, "max_position_embeddings"),
            ("num_hidden_layers", 100_000, "num_hidden_layers"),
            ("num_hidden_layers", 0, "num_hidden_layers"),
            ("num_attention_heads", 0, "num_attention_heads"),
            ("hidden_size", -32, "hidden_size"),
            ("vocab_size", 2_000_000_000, "vocab_size"),
            ("layer_norm_eps", -1e-5, "layer_norm_eps"),
            ("layer_norm_eps", 0, "layer_norm_eps"),
        ]
        for (key, value, field) in cases {
            let path = try hostileConfig("clip-tiny", [key: value])
            assertRefused(field, path, "\(key) = \(value)") { _ = try CLIPTextConfig.load($0) }
        }
    }

    func testHostileVAEValuesAreRefused() throws {
        let cases: [(String, Any, String)] = [
            ("latent_channels", -4, "latent_channels"),
            ("in_channels", -3, "in_channels"),
            ("norm_num_groups", 0, "norm_num_groups"),
            ("layers_per_block", -1, "layers_per_block"),
            ("block_out_channels", [1_000_000_000], "block_out_channels[0]"),
            ("scaling_factor", 0, "scaling_factor"),
            ("scaling_factor", -0.18215, "scaling_factor"),
            ("scaling_factor", 1e30, "scaling_factor"),
            ("shift_factor", 1e30, "shift_factor"),
            ("sample_size", 100_000_000, "sample_size"),
            ("sample_size", "x", "sample_size"),
            ("sample_size", [Int](), "sample_size"),
        ]
        for (key, value, field) in cases {
            let path = try hostileConfig("vae-tiny", [key: value])
            assertRefused(field, path, "\(key) = \(value)") { _ = try VAEConfig.load($0) }
        }
    }

    /// NaN and infinities cannot be written in JSON, but configs built in code are checked the same way.
    func testNonFiniteValuesAreRefused() {
        for eps in [Float.nan, .infinity, -.infinity] {
            var u = UNetConfig()
            u.normEps = eps
            XCTAssertThrowsError(try u.validate()) { XCTAssertTrue("\($0)".contains("norm_eps"), "\($0)") }
            var t = CLIPTextConfig()
            t.layerNormEps = eps
            XCTAssertThrowsError(try t.validate()) { XCTAssertTrue("\($0)".contains("layer_norm_eps"), "\($0)") }
            var v = VAEConfig()
            v.scalingFactor = eps
            XCTAssertThrowsError(try v.validate()) { XCTAssertTrue("\($0)".contains("scaling_factor"), "\($0)") }
        }
    }

    /// Every value within bounds but the whole too large: the parameter count is bounded before allocation.
    func testTooManyParametersAreRefused() {
        var u = UNetConfig()
        u.blockOutChannels = Array(repeating: 16_384, count: 8)
        u.downBlockTypes = Array(repeating: "CrossAttnDownBlock2D", count: 8)
        u.upBlockTypes = Array(repeating: "CrossAttnUpBlock2D", count: 8)
        u.layersPerBlock = 16
        u.transformerLayersPerBlock = .one(64)
        XCTAssertThrowsError(try u.validate(file: "unet/config.json")) { error in
            XCTAssertTrue("\(error)".contains("parameters"), "\(error)")
            XCTAssertTrue("\(error)".contains("unet/config.json"), "\(error)")
        }
    }

    /// The parameter count a config describes equals the values in its (diffusers-written) weights file.
    func testParameterCountsMatchTheFixtureFiles() throws {
        func values(_ path: String, skipping: (String) -> Bool = { _ in false }) throws -> Int {
            try SafetensorsFile(path: path).entries.values.filter { !skipping($0.name) }.reduce(0) { $0 + $1.shape.reduce(1, *) }
        }
        for name in ["unet-tiny2", "unet-sdlike", "unet-tiny3-odd"] {
            let config = try UNetConfig.load(Fixtures.path(name, "config.json"))
            XCTAssertEqual(try config.parameterCount(), try values(Fixtures.path(name, "diffusion_pytorch_model.safetensors")), name)
        }
        let vae = try VAEConfig.load(Fixtures.path("vae-tiny", "config.json"))
        XCTAssertEqual(try vae.parameterCount(), try values(Fixtures.path("vae-tiny", "diffusion_pytorch_model.safetensors")))
        let clip = try CLIPTextConfig.load(Fixtures.path("clip-tiny", "config.json"))
        let clipValues = try values(Fixtures.path("clip-tiny", "model.safetensors")) {
            LDMKeyMap.isTextEncoderBuffer(LDMKeyMap.textEncoder($0))
        }
        XCTAssertEqual(try clip.parameterCount(), clipValues)
    }

    /// An empty UNet config means diffusers' default (SD 1.x-sized) UNet; next to a tiny weights file it is refused
    /// as not matching the weights before the 3.4 GB model is built, not after.
    func testConfigLargerThanItsWeightsIsRefusedBeforeBuilding() throws {
        let unet = "\(folder)/unet"
        try FileManager.default.createDirectory(atPath: unet, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(unet)/config.json"))
        try FileManager.default.copyItem(atPath: Fixtures.path("unet-tiny2", "diffusion_pytorch_model.safetensors"),
                                         toPath: "\(unet)/diffusion_pytorch_model.safetensors")
        let config = try UNetConfig.load("\(unet)/config.json")
        XCTAssertEqual(config.blockOutChannels, UNetConfig().blockOutChannels)   // diffusers' defaults
        let start = Date()
        XCTAssertThrowsError(try StableDiffusionModels.loadUNet(config: config, folder: unet)) { error in
            XCTAssertTrue("\(error)".contains("the config does not match these weights"), "\(error)")
            XCTAssertTrue("\(error)".contains("diffusion_pytorch_model.safetensors"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "refused before building")
        // The same for a text encoder config with many more layers than its file holds.
        let clip = try hostileConfig("clip-tiny", ["num_hidden_layers": 200, "hidden_size": 1024, "num_attention_heads": 16])
        let text = "\(folder)/text_encoder"
        try FileManager.default.createDirectory(atPath: text, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.path("clip-tiny", "model.safetensors"), toPath: "\(text)/model.safetensors")
        XCTAssertThrowsError(try StableDiffusionModels.loadTextEncoder(
            config: try CLIPTextConfig.load(clip), weights: try ComponentWeights.find(in: text, naming: .transformers, variant: nil))) {
            XCTAssertTrue("\($0)".contains("the config does not match these weights"), "\($0)")
        }
    }

    /// A VAE `sample_size` whose tiles do not close up (here one latent cell: a zero stride) is refused by tiled
    /// decoding, not trapped.
    func testTiledDecodeRefusesTilesThatDoNotFit() throws {
        for side in [2, 6] {
            var config = try VAEConfig.load(Fixtures.path("vae-tiny", "config.json"))
            config.sampleSize = side
            let params = Parameters(try SafetensorsSource(path: Fixtures.path("vae-tiny", "diffusion_pytorch_model.safetensors")))
            let vae = try AutoencoderKL(config: config, params: params.scope(""))
            XCTAssertThrowsError(try vae.tiledDecode(Tensor(shape: [1, 5, 5, config.latentChannels]))) {
                XCTAssertTrue("\($0)".contains("sample_size"), "\($0)")
            }
        }
    }

    /// A few missing or mis-shaped tensors still reach the error that lists them all (not the size refusal).
    func testValidFixturesStillLoad() throws {
        for name in ["unet-tiny2", "unet-sdlike"] {
            let config = try UNetConfig.load(Fixtures.path(name, "config.json"))
            XCTAssertNoThrow(try StableDiffusionModels.loadUNet(config: config, folder: Fixtures.path(name)), name)
        }
    }
}
