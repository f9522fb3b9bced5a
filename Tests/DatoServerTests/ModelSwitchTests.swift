import DatoDemo
import DatoPipeline
import DatoServer
import Foundation
import HummingbirdTesting
import XCTest

/// Several models offered (`--model-dir`): listing, switching with sd_model_checkpoint (in a request or through
/// POST /options), unknown names refused.
final class ModelSwitchTests: XCTestCase {
    /// Two names for the demo model, loaded under the name asked for; `loads` counts the loads.
    private func catalog(loads: LoadCounter) throws -> ModelCatalog {
        let path = try DemoModel.folder()
        let entries = [ModelEntry(name: "demo-a", path: path), ModelEntry(name: "demo-b", path: path + "/.")]
        let first = ServedModel(pipeline: try ServedDemo.model.get().pipeline, path: path, hash: "aaaa000000", name: "demo-a")
        return ModelCatalog(loaded: first, entries: entries) { entry in
            loads.add()
            return ServedModel(pipeline: try StableDiffusionPipeline.load(path: entry.path), path: entry.path, hash: nil, name: entry.name)
        }
    }

    func testSwitchingThroughARequestAndThroughOptions() async throws {
        let loads = LoadCounter()
        var settings = ServerSettings()
        settings.port = 0
        let server = try DatoServer(settings: settings, catalog: try catalog(loads: loads))
        try await server.application().test(.ahc(.http)) { client in
            let models = try await client.get("/sdapi/v1/sd-models").json as? [[String: Any]] ?? []
            XCTAssertEqual(models.compactMap { $0["title"] as? String }, ["demo-a [aaaa000000]", "demo-b"])
            let b = try await client.post("/sdapi/v1/txt2img", json: """
                {"prompt": "x", "steps": 1, "width": 64, "height": 64, "override_settings": {"sd_model_checkpoint": "demo-b"}}
                """)
            XCTAssertEqual(b.status, .ok, b.text)
            XCTAssertEqual(b.info["sd_model_name"] as? String, "demo-b")
            let afterRequest = try await client.get("/sdapi/v1/options").object
            XCTAssertEqual(afterRequest["sd_model_checkpoint"] as? String, "demo-b")
            XCTAssertEqual(loads.count, 1)
            // The title listed before the switch still names demo-a (A1111 keeps known hashes in its list).
            let titles = (try await client.get("/sdapi/v1/sd-models").json as? [[String: Any]] ?? []).compactMap { $0["title"] as? String }
            XCTAssertEqual(titles, ["demo-b", "demo-a [aaaa000000]"])
            let set = try await client.post("/sdapi/v1/options", json: #"{"sd_model_checkpoint": "demo-a [aaaa000000]"}"#)
            XCTAssertEqual(set.status, .ok, set.text)
            let afterOptions = try await client.get("/sdapi/v1/options").object
            XCTAssertEqual(afterOptions["sd_model_checkpoint"] as? String, "demo-a")   // the loader's model has no hash
            let again = try await client.post("/sdapi/v1/txt2img", json: #"{"prompt": "x", "steps": 1, "width": 64, "height": 64}"#)
            XCTAssertEqual(again.info["sd_model_name"] as? String, "demo-a")
            XCTAssertEqual(loads.count, 2, "one load per switch, none for the model already loaded")
            let unknown = try await client.post("/sdapi/v1/options", json: #"{"sd_model_checkpoint": "demo-c"}"#)
            XCTAssertEqual(unknown.issueFields, ["sd_model_checkpoint"], unknown.text)
        }
    }
}

/// Counts loads from the loader's thread.
final class LoadCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return n }
}
