import DatoCore
import DatoModels
@testable import DatoPipeline
import Foundation
import XCTest

/// NaN and infinities during a generation (issue 20) are reported with the stage where they appear, never
/// trapped; extreme guidance and eta are refused up front.
final class NonFiniteGenerationTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dato-nan-\(UUID().uuidString)").path
        let fixture = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/tiny-sd").path
        try FileManager.default.copyItem(atPath: fixture, toPath: folder)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Rewrites a component's fp16 weights file as fp32 with tensor `name` filled with `value`.
    func poison(_ component: String, file base: String, tensor name: String, with value: Float) throws {
        let fp16 = "\(folder)/\(component)/\(base).fp16.safetensors"
        let src = try SafetensorsFile(path: fp16)
        XCTAssertNotNil(src.entries[name], name)
        let tensors = try src.names.map { n -> (String, Tensor) in
            let t = try src.tensor(n)
            if n == name { t.fill(value) }
            return (n, t)
        }
        try SafetensorsWriter.write(tensors, to: "\(folder)/\(component)/\(base).safetensors")
        try FileManager.default.removeItem(atPath: fp16)
    }

    func request() -> GenerationRequest {
        var r = GenerationRequest(prompt: "a red square")
        r.width = 64
        r.height = 64
        r.steps = 3
        return r
    }

    /// Asserts that generating throws `PipelineError.nonFinite` at `stage`.
    func assertNonFinite(_ stage: GenerationStage, file: StaticString = #filePath, line: UInt = #line) throws {
        let pipe = try StableDiffusionPipeline.load(path: folder)
        XCTAssertThrowsError(try pipe.generate(request()), file: file, line: line) { error in
            guard case let PipelineError.nonFinite(found, _) = error else {
                return XCTFail("expected a non-finite error, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(found, stage, "\(error)", file: file, line: line)
        }
    }

    func testNaNWeightsInTheUNetNameTheStep() throws {
        try poison("unet", file: "diffusion_pytorch_model", tensor: "conv_out.bias", with: .nan)
        try assertNonFinite(.unet(step: 1))
        let pipe = try StableDiffusionPipeline.load(path: folder)
        XCTAssertThrowsError(try pipe.generate(request())) {
            XCTAssertEqual("\($0)", "the UNet output at step 1 has NaN: the weights or --cfg-scale are out of range")
        }
    }

    func testInfiniteWeightsInTheVAEAreReported() throws {
        try poison("vae", file: "diffusion_pytorch_model", tensor: "decoder.conv_out.bias", with: .infinity)
        try assertNonFinite(.vaeDecoder)
    }

    func testNaNWeightsInTheTextEncoderAreReported() throws {
        try poison("text_encoder", file: "model", tensor: "final_layer_norm.bias", with: .nan)
        try assertNonFinite(.textEncoder)
    }

    /// The settings the issue reached NaN with are refused before generating.
    func testExtremeGuidanceAndEtaAreRefused() throws {
        let pipe = try StableDiffusionPipeline.load(path: folder)
        var r = request()
        r.guidanceScale = 1e38
        XCTAssertThrowsError(try pipe.generate(r)) { XCTAssertTrue("\($0)".contains("cfg-scale"), "\($0)") }
        r = request()
        r.scheduler = .ddim
        r.eta = 1e10
        XCTAssertThrowsError(try pipe.generate(r)) { XCTAssertTrue("\($0)".contains("eta"), "\($0)") }
        // The largest accepted values either work or are reported, never trapped.
        r.guidanceScale = GenerationRequest.guidanceScaleRange.upperBound
        r.eta = GenerationRequest.etaRange.upperBound
        do {
            let image = try pipe.generate(r)
            XCTAssertEqual(image.pixels.count, 64 * 64 * 3)
        } catch PipelineError.nonFinite {}
    }

    func testPixelConversionIsNaNSafe() {
        let t = Tensor(shape: [1, 1, 2, 3], values: [.nan, .infinity, -.infinity, -1, 1, 0])
        XCTAssertEqual(StableDiffusionPipeline.toBytes(t), [0, 255, 0, 0, 255, 128])
        XCTAssertEqual(PixelConversion.byte(-.nan), 0)
        XCTAssertEqual(PixelConversion.byte(3), 255)
    }

    func testScanFindsEveryNonFiniteValue() {
        for count in [1, 7, 64, 1000] {
            for position in Set([0, count / 2, count - 1]) {
                let t = Tensor(shape: [count], values: (0..<count).map { Float($0) * 0.37 - 10 })
                XCTAssertNil(NonFiniteCheck.scan(t))
                t[position] = .infinity
                XCTAssertEqual(NonFiniteCheck.scan(t), .infinity)
                t[position] = -.infinity
                XCTAssertEqual(NonFiniteCheck.scan(t), .infinity)
                t[position] = .nan
                XCTAssertEqual(NonFiniteCheck.scan(t), .nan)
                if count - 1 - position != position {
                    t[count - 1 - position] = .infinity
                    XCTAssertEqual(NonFiniteCheck.scan(t), .nan, "NaN wins over Inf")
                }
            }
        }
        XCTAssertNil(NonFiniteCheck.scan(Tensor(shape: [3], values: [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0])))
    }
}
