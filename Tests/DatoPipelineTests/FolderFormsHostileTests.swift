import DatoCore
import DatoModels
import Foundation
import XCTest

/// Sharded and legacy `.bin` weights with one lie each (built from the folder-forms fixtures in a temporary
/// folder): each is one clear error naming the file, never a read outside the folder, a trap or a wrong model.
final class FolderFormsHostileTests: XCTestCase {
    let root = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/folder-forms")
    var dir: String!
    let index = "diffusion_pytorch_model.safetensors.index.json"

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-forms-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A copy of the sharded VAE folder (two shards) in `dir/vae`, with its weight map returned for editing.
    func shardedVAE() throws -> (folder: String, map: [String: String]) {
        let folder = "\(dir!)/vae"
        try FileManager.default.copyItem(atPath: root.appendingPathComponent("sharded/vae").path, toPath: folder)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(index)"))) as? [String: Any]
        return (folder, json?["weight_map"] as? [String: String] ?? [:])
    }

    func writeIndex(_ map: [String: String], in folder: String) throws {
        let data = try JSONSerialization.data(withJSONObject: ["metadata": [String: String](), "weight_map": map])
        try data.write(to: URL(fileURLWithPath: "\(folder)/\(index)"))
    }

    /// Loading the folder's weights (every tensor) fails naming the index and holding `words`.
    func expectRefused(_ folder: String, _ words: String..., file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try {
            let c = try ComponentWeights.find(in: folder, naming: .diffusers, variant: nil).open()
            for name in c.shapes.keys { _ = try c.tensor(name) }
        }(), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("\(folder)/\(self.index)"), text, file: file, line: line)
            for w in words { XCTAssertTrue(text.contains(w), "'\(w)' not in: \(text)", file: file, line: line) }
        }
    }

    func testTheUnchangedCopyLoads() throws {
        let (folder, map) = try shardedVAE()
        let c = try ComponentWeights.find(in: folder, naming: .diffusers, variant: nil).open()
        XCTAssertEqual(Set(c.shapes.keys), Set(map.keys))
        XCTAssertEqual(Set(map.values).count, 2)
    }

    func testShardOutsideTheFolderIsRefused() throws {
        let (folder, map) = try shardedVAE()
        // A real shard one level up, reachable through "..": never opened.
        let shard = try XCTUnwrap(map.values.sorted().first)
        try FileManager.default.copyItem(atPath: "\(folder)/\(shard)", toPath: "\(dir!)/\(shard)")
        for evil in ["../\(shard)", "..", "/etc/passwd", "sub/\(shard)", "..\\\(shard)"] {
            var edited = map
            edited[try XCTUnwrap(map.first { $0.value == shard }?.key)] = evil
            try writeIndex(edited, in: folder)
            expectRefused(folder, "weight_map", "not a plain file name")
        }
    }

    func testMissingShardIsRefused() throws {
        let (folder, map) = try shardedVAE()
        let shard = try XCTUnwrap(map.values.sorted().last)
        try FileManager.default.removeItem(atPath: "\(folder)/\(shard)")
        expectRefused(folder, "the shard '\(shard)'", "is missing")
    }

    func testOverlappingShardsAreRefused() throws {
        let (folder, map) = try shardedVAE()
        let shard = try XCTUnwrap(map.values.sorted().first)
        try FileManager.default.copyItem(atPath: "\(folder)/\(shard)", toPath: "\(folder)/copy.safetensors")
        var edited = map
        let moved = try XCTUnwrap(map.first { $0.value == shard }?.key)
        edited[moved] = "copy.safetensors"
        try writeIndex(edited, in: folder)
        expectRefused(folder, "is in two shards", "'copy.safetensors'", "'\(shard)'")
    }

    func testTensorMappedToTheWrongShardIsRefused() throws {
        let (folder, map) = try shardedVAE()
        let shards = map.values.sorted()
        let name = try XCTUnwrap(map.first { $0.value == shards.first }?.key)
        var edited = map
        edited[name] = shards.last
        try writeIndex(edited, in: folder)
        expectRefused(folder, "tensor '\(name)' is mapped to shard '\(shards.last!)', which lacks it (it is in '\(shards.first!)')")
        edited = map
        edited["not.a.tensor"] = shards.first
        try writeIndex(edited, in: folder)
        expectRefused(folder, "tensor 'not.a.tensor'", "no shard holds it")
    }

    func testBadIndexFilesAreRefused() throws {
        let (folder, _) = try shardedVAE()
        try writeIndex([:], in: folder)
        expectRefused(folder, "weight_map", "empty")
        try Data("{\"weight_map\": [1, 2]}".utf8).write(to: URL(fileURLWithPath: "\(folder)/\(index)"))
        expectRefused(folder, "weight_map")
        try writeIndex(["x": "notes.txt"], in: folder)
        expectRefused(folder, "is not a weights file")
    }

    /// The legacy `.bin` VAE cut short anywhere in its storages: an error naming the file and the storage.
    func testTruncatedLegacyFileIsRefused() throws {
        let source = root.appendingPathComponent("pickles/vae/diffusion_pytorch_model.bin").path
        let whole = try Data(contentsOf: URL(fileURLWithPath: source))
        let path = "\(dir!)/diffusion_pytorch_model.bin"
        for cut in [1, 100, whole.count / 3, whole.count / 2] {
            try whole.prefix(whole.count - cut).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try openCheckpoint(path)) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(path) && text.contains("storage ") && text.contains("truncated file"), text)
            }
        }
    }
}
