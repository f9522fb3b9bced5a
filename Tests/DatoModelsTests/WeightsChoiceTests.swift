@testable import DatoModels
import Foundation
import XCTest

/// Which weights file a component folder's loader picks when several forms are present, by diffusers' and
/// transformers' rules (the files are empty: choosing never opens them).
final class WeightsChoiceTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-choice-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A fresh folder holding empty files of these names.
    func folder(_ names: String...) throws -> String {
        let f = "\(dir!)/\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true)
        for n in names { FileManager.default.createFile(atPath: "\(f)/\(n)", contents: Data()) }
        return f
    }

    func chosen(_ f: String, _ naming: WeightsNaming = .diffusers, variant: String? = nil) throws -> String {
        try ComponentWeights.find(in: f, naming: naming, variant: variant).fileName
    }

    func testVariantNamesAsDiffusersAddsThem() {
        XCTAssertEqual(WeightsNaming.adding("fp16", to: "diffusion_pytorch_model.safetensors"), "diffusion_pytorch_model.fp16.safetensors")
        XCTAssertEqual(WeightsNaming.adding("fp16", to: "model.safetensors.index.json"), "model.safetensors.index.fp16.json")
        XCTAssertEqual(WeightsNaming.diffusers.candidates(variant: nil), [
            "diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model.safetensors",
            "diffusion_pytorch_model.bin.index.json", "diffusion_pytorch_model.bin"])
        XCTAssertEqual(WeightsNaming.transformers.candidates(variant: "fp16"), [
            "model.fp16.safetensors", "model.safetensors.index.fp16.json", "model.safetensors.fp16.index.json",
            "pytorch_model.fp16.bin", "pytorch_model.bin.index.fp16.json", "pytorch_model.bin.fp16.index.json"])
    }

    func testSafetensorsBeforeBinAndIndexOrderPerLibrary() throws {
        XCTAssertEqual(try chosen(try folder("diffusion_pytorch_model.bin", "diffusion_pytorch_model.safetensors")),
                       "diffusion_pytorch_model.safetensors")
        XCTAssertEqual(try chosen(try folder("diffusion_pytorch_model.bin", "diffusion_pytorch_model.safetensors.index.json")),
                       "diffusion_pytorch_model.safetensors.index.json")
        // diffusers looks for the index first, transformers for the single file first.
        XCTAssertEqual(try chosen(try folder("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json")),
                       "diffusion_pytorch_model.safetensors.index.json")
        XCTAssertEqual(try chosen(try folder("model.safetensors", "model.safetensors.index.json"), .transformers), "model.safetensors")
        XCTAssertEqual(try chosen(try folder("pytorch_model.bin.index.json"), .transformers), "pytorch_model.bin.index.json")
    }

    func testPlainBeforeVariantWithoutVariant() throws {
        let f = try folder("diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.safetensors")
        XCTAssertEqual(try chosen(f), "diffusion_pytorch_model.bin")
        XCTAssertNil(try ComponentWeights.find(in: f, naming: .diffusers, variant: nil).note)
        // Asked for, the variant wins over the plain safetensors, in any form.
        XCTAssertEqual(try chosen(try folder("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.bin"), variant: "fp16"),
                       "diffusion_pytorch_model.fp16.bin")
        XCTAssertEqual(try chosen(try folder("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.fp16.index.json"),
                                  variant: "fp16"), "diffusion_pytorch_model.safetensors.fp16.index.json")   // diffusers' pre-0.27 name
    }

    func testFP16IsTheFallbackWithANote() throws {
        let only = try ComponentWeights.find(in: try folder("model.fp16.safetensors"), naming: .transformers, variant: nil)
        XCTAssertEqual(only.fileName, "model.fp16.safetensors")
        XCTAssertEqual(only.variant, "fp16")
        XCTAssertTrue(only.note?.contains("using the fp16 variant") ?? false, "\(String(describing: only.note))")
        let missing = try ComponentWeights.find(in: try folder("model.safetensors"), naming: .transformers, variant: "ema")
        XCTAssertEqual(missing.fileName, "model.safetensors")
        XCTAssertTrue(missing.warning?.contains("no ema variant") ?? false, "\(String(describing: missing.warning))")
    }

    func testNothingFoundListsTheNamesAndTheVariantsPresent() throws {
        let empty = try folder()
        XCTAssertThrowsError(try chosen(empty)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(empty), text)
            for name in WeightsNaming.diffusers.candidates(variant: nil) + WeightsNaming.diffusers.candidates(variant: "fp16") {
                XCTAssertTrue(text.contains(name), "\(name) not in: \(text)")
            }
        }
        let ema = try folder("diffusion_pytorch_model.ema.safetensors", "diffusion_pytorch_model.non_ema-00001-of-00002.bin")
        XCTAssertThrowsError(try chosen(ema)) { error in
            XCTAssertTrue("\(error)".contains("variant(s) ema, non_ema: choose one with --variant"), "\(error)")
        }
        XCTAssertThrowsError(try chosen(ema, variant: "fp16")) { error in
            XCTAssertTrue("\(error)".contains("diffusion_pytorch_model.fp16.safetensors"), "\(error)")
        }
        XCTAssertEqual(try chosen(ema, variant: "ema"), "diffusion_pytorch_model.ema.safetensors")
    }

    func testVariantNamesMustBePlainWords() throws {
        let f = try folder("model.safetensors")
        for bad in ["", "../fp16", "fp16/x", "a.b", String(repeating: "x", count: 65), "fp 16"] {
            XCTAssertThrowsError(try chosen(f, .transformers, variant: bad), bad) { XCTAssertTrue("\($0)".contains("variant"), "\($0)") }
        }
    }
}
