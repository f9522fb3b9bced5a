import DatoModels
@testable import DatoSearch
import Foundation
import XCTest

/// A search journal's model identity covers every file of sharded and `.bin` weights, as the loader reads them.
final class ModelIdentityFormsTests: XCTestCase {
    func testIdentityCoversEveryShard() throws {
        let forms = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DatoPipelineTests/Fixtures/folder-forms")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-identity-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        for form in ["sharded", "pickles"] {
            let model = dir.appendingPathComponent(form)
            try FileManager.default.copyItem(at: forms.appendingPathComponent(form), to: model)
            let files = try ModelIdentity.files(model: model.path, configFolder: nil).compactMap(\.1)
            let shards = files.filter { $0.contains("-0000") }
            XCTAssertGreaterThanOrEqual(shards.count, form == "sharded" ? 7 : 3, "\(files)")
            let original = try ModelIdentity.of(model: model.path, configFolder: nil)
            let last = try XCTUnwrap(shards.last)
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: last)))
            bytes[bytes.count - 3] ^= 1
            try Data(bytes).write(to: URL(fileURLWithPath: last))
            XCTAssertNotEqual(try ModelIdentity.of(model: model.path, configFolder: nil), original, "\(form): \(last)")
        }
    }

    /// A folder whose tokenizer is tokenizer.json + tokenizer_config.json only (as transformers 5 saves it, here
    /// the SD 2.x fixture): the identity covers both, so changing the pad token changes it; the variant's
    /// weights files and a prediction-type override count too.
    func testIdentityCoversTokenizerJSONVariantAndPredictionType() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DatoPipelineTests/Fixtures")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-identity-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("tiny-sd2")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("sd2/tiny-sd2"), to: model)
        let labels = try ModelIdentity.files(model: model.path, configFolder: nil).map(\.0)
        XCTAssertTrue(labels.contains("tokenizer/tokenizer.json") && labels.contains("tokenizer/tokenizer_config.json"), "\(labels)")
        let original = try ModelIdentity.of(model: model.path, configFolder: nil)
        XCTAssertNotEqual(try ModelIdentity.of(model: model.path, configFolder: nil, predictionType: .epsilon), original)
        let config = model.appendingPathComponent("tokenizer/tokenizer_config.json")
        let text = try String(contentsOf: config, encoding: .utf8)
        try text.replacingOccurrences(of: "\"pad_token\": \"!\"", with: "\"pad_token\": \"<|endoftext|>\"")
            .write(to: config, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try ModelIdentity.of(model: model.path, configFolder: nil), original)

        let sharded = fixtures.appendingPathComponent("folder-forms/sharded").path
        XCTAssertNotEqual(try ModelIdentity.of(model: sharded, configFolder: nil, variant: "fp16"),
                          try ModelIdentity.of(model: sharded, configFolder: nil))
    }
}
