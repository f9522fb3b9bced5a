import DatoCore
@testable import DatoModels
import XCTest

/// The CLIP text encoder matches transformers on a seeded tiny model.
final class CLIPFixtureTests: XCTestCase {
    func testMatchesTransformers() throws {
        let config = try CLIPTextConfig.load(Fixtures.path("clip-tiny", "config.json"))
        let params = Parameters(try SafetensorsSource(path: Fixtures.path("clip-tiny", "model.safetensors")))
        let model = try CLIPTextModel(config: config, params: params.scope(""))
        try params.finish()
        let io = try Fixtures.io("clip-tiny")
        let idsT = try io.tensor("input_ids")
        let t = idsT.dim(1)
        let ids = (0..<idsT.dim(0)).map { b in (0..<t).map { Int(idsT[b * t + $0]) } }
        let out = try model(ids, keepHiddenStates: true)
        assertClose(out.lastHiddenState, try io.tensor("last_hidden_state"), "last_hidden_state")
        assertClose(out.pooled, try io.tensor("pooler_output"), "pooler_output")
        XCTAssertEqual(out.hiddenStates.count, config.numHiddenLayers + 1)
        for (i, h) in out.hiddenStates.enumerated() {
            assertClose(h, try io.tensor("hidden_states.\(i)"), "hidden_states.\(i)")
        }
    }
}
