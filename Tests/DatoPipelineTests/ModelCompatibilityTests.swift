import DatoCore
import DatoModels
@testable import DatoPipeline
import Foundation
import XCTest

/// Networks whose configs do not fit together (issue 20) are refused at load, naming the file and the field,
/// instead of trapping in the sampler.
final class ModelCompatibilityTests: XCTestCase {
    /// A UNet taking 8 channels but predicting 4 (an inpainting-style config with weights to match): the sampler
    /// would combine tensors of different sizes.
    func testUNetInputAndOutputChannelsMustAgree() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dato-compat-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: Bundle.module.resourceURL!.appendingPathComponent("Fixtures/tiny-sd").path,
                                         toPath: folder)
        let configPath = "\(folder)/unet/config.json"
        let data = try Data(contentsOf: URL(fileURLWithPath: configPath))
        guard var json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return XCTFail("config") }
        json["in_channels"] = 8
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: configPath))
        let fp16 = "\(folder)/unet/diffusion_pytorch_model.fp16.safetensors"
        let src = try SafetensorsFile(path: fp16)
        let tensors = try src.names.map { name -> (String, Tensor) in
            let t = try src.tensor(name)
            return name == "conv_in.weight" ? (name, Tensor(shape: [t.dim(0), 8, t.dim(2), t.dim(3)])) : (name, t)
        }
        try SafetensorsWriter.write(tensors, to: "\(folder)/unet/diffusion_pytorch_model.safetensors")
        try FileManager.default.removeItem(atPath: fp16)
        XCTAssertThrowsError(try {
            let pipe = try StableDiffusionPipeline.load(path: folder)
            var request = GenerationRequest(prompt: "x")
            request.width = 64
            request.height = 64
            request.steps = 2
            _ = try pipe.generate(request)
        }()) { error in
            guard case let ModelError.config(file, field, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(file, configPath)
            XCTAssertEqual(field, "in_channels")
        }
    }

    func testTextWidthAndLatentChannelsMustAgree() {
        var c = StableDiffusionModels.Configs()
        XCTAssertNoThrow(try c.validateTogether())
        c.textEncoder.hiddenSize = 1024
        XCTAssertThrowsError(try c.validateTogether(folder: "m")) {
            XCTAssertTrue("\($0)".contains("m/unet/config.json: field 'cross_attention_dim'"), "\($0)")
        }
        c = StableDiffusionModels.Configs()
        c.vae.latentChannels = 16
        XCTAssertThrowsError(try c.validateTogether()) { XCTAssertTrue("\($0)".contains("latent_channels"), "\($0)") }
    }
}
