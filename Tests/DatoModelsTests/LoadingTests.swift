import DatoCore
@testable import DatoModels
import Foundation
import XCTest

/// Loading from a diffusers folder and from an original single-file checkpoint, and the errors for
/// weights that do not fit the model.
final class LoadingTests: XCTestCase {
    var configs: StableDiffusionModels.Configs {
        get throws {
            var c = StableDiffusionModels.Configs()
            c.unet = try UNetConfig.load(Fixtures.path("unet-sdlike", "config.json"))
            c.vae = try VAEConfig.load(Fixtures.path("vae-tiny", "config.json"))
            c.textEncoder = try CLIPTextConfig.load(Fixtures.path("clip-tiny", "config.json"))
            return c
        }
    }

    /// Runs all three networks on their fixture inputs and compares with the diffusers outputs.
    func checkAgainstReference(_ models: StableDiffusionModels, _ what: String) throws {
        let u = try Fixtures.io("unet-sdlike")
        let out = try models.unet(u.tensor("sample"), timesteps: u.tensor("timesteps").array, context: u.tensor("encoder_hidden_states"))
        assertClose(out, try u.tensor("out"), "\(what) unet")
        let v = try Fixtures.io("vae-tiny")
        assertClose(try models.vae.decode(v.tensor("latents")), try v.tensor("decoded"), "\(what) vae decode")
        assertClose(try models.vae.encode(v.tensor("image")), try v.tensor("moments"), "\(what) vae encode")
        let c = try Fixtures.io("clip-tiny")
        let ids = try c.tensor("input_ids")
        let rows = (0..<ids.dim(0)).map { b in (0..<ids.dim(1)).map { Int(ids[b * ids.dim(1) + $0]) } }
        assertClose(try models.textEncoder(rows).lastHiddenState, try c.tensor("last_hidden_state"), "\(what) text")
    }

    func testSingleFileCheckpointMatchesDiffusers() throws {
        let models = try StableDiffusionModels(singleFile: Fixtures.path("single-file", "tiny-sd.safetensors"),
                                               configs: configs)
        try checkAgainstReference(models, "single file")
    }

    func testDiffusersFolder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-folder-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "{\"_class_name\": \"StableDiffusionPipeline\"}".write(toFile: "\(dir)/model_index.json", atomically: true, encoding: .utf8)
        for (link, target) in [("unet", "unet-sdlike"), ("vae", "vae-tiny"), ("text_encoder", "clip-tiny")] {
            try FileManager.default.createSymbolicLink(atPath: "\(dir)/\(link)", withDestinationPath: Fixtures.path(target))
        }
        try checkAgainstReference(try StableDiffusionModels(diffusersFolder: dir), "diffusers folder")
    }

    func testNotADiffusersFolder() {
        XCTAssertThrowsError(try StableDiffusionModels(diffusersFolder: Fixtures.path("unet-tiny2"))) { error in
            XCTAssertTrue("\(error)".contains("model_index.json"), "\(error)")
        }
    }

    /// Rewrites the VAE fixture with one tensor dropped, one mis-shaped and one extra, and expects a
    /// single error that lists all three.
    func testWeightProblemsAreListedTogether() throws {
        let src = try SafetensorsFile(path: Fixtures.path("vae-tiny", "diffusion_pytorch_model.safetensors"))
        var tensors: [(String, Tensor)] = []
        for name in src.names where name != "decoder.conv_in.bias" {
            tensors.append((name, name == "encoder.conv_in.weight" ? Tensor(shape: [16, 3, 3, 1]) : try src.tensor(name)))
        }
        tensors.append(("decoder.extra.weight", Tensor(shape: [2])))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dato-bad-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafetensorsWriter.write(tensors, to: path)
        let config = try VAEConfig.load(Fixtures.path("vae-tiny", "config.json"))
        XCTAssertThrowsError(try StableDiffusionModels.build(try SafetensorsSource(path: path), compute: ComputeSettings()) {
            try AutoencoderKL(config: config, params: $0)
        }) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path), text)
            XCTAssertTrue(text.contains("missing tensor 'decoder.conv_in.bias'"), text)
            XCTAssertTrue(text.contains("'encoder.conv_in.weight' has shape [16, 3, 3, 1], expected [16, 3, 3, 3]"), text)
            XCTAssertTrue(text.contains("unexpected tensor 'decoder.extra.weight'"), text)
        }
    }

    func testKeyMapRejectsUnknownKeys() {
        XCTAssertNil(LDMKeyMap.unet("input_blocks.1.7.foo", layersPerBlock: 2))
        XCTAssertNil(LDMKeyMap.vae("encoder.sideways.0.block.0.conv1.weight", levels: 4))
        XCTAssertEqual(LDMKeyMap.unet("output_blocks.2.1.conv.weight", layersPerBlock: 2), "up_blocks.0.upsamplers.0.conv.weight")
        XCTAssertEqual(LDMKeyMap.unet("output_blocks.5.2.conv.bias", layersPerBlock: 2), "up_blocks.1.upsamplers.0.conv.bias")
        XCTAssertEqual(LDMKeyMap.unet("input_blocks.4.0.skip_connection.weight", layersPerBlock: 2),
                       "down_blocks.1.resnets.0.conv_shortcut.weight")
        XCTAssertEqual(LDMKeyMap.vae("decoder.up.3.block.0.conv1.weight", levels: 4), "decoder.up_blocks.0.resnets.0.conv1.weight")
    }
}
