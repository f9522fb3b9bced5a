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
}
