import DatoServer
import Foundation
import HummingbirdTesting
import XCTest

/// GET /dato/v1/plan-cost: the caching part of a plan's MAC ratio before anything runs.
final class PlanCostTests: XCTestCase {
    func testCachingRatioMatchesWhatAGenerationMeasures() async throws {
        try await withServer { client in
            let cost = try await client.get("/dato/v1/plan-cost?accel=deepcache:2&steps=10&sampler_name=DDIM")
            XCTAssertEqual(cost.status, .ok, cost.text)
            let ratio = try XCTUnwrap(cost.object["caching_mac_ratio"] as? Double)
            XCTAssertLessThan(ratio, 1)
            XCTAssertEqual(cost.object["calls"] as? Int, 10)
            let run = try await client.post("/sdapi/v1/txt2img", json: """
                {"prompt": "x", "steps": 10, "sampler_name": "DDIM", "width": 64, "height": 64, "accel": "deepcache:2"}
                """)
            XCTAssertEqual(try XCTUnwrap(run.info["dato_mac_ratio"] as? Double), ratio, accuracy: 1e-9)
            XCTAssertEqual(run.info["dato_plan"] as? String, cost.object["plan"] as? String)
            // As the page sends it: encodeURIComponent("DPM++ 2M"), and a plan's "+" as %2B.
            let encoded = try await client.get("/dato/v1/plan-cost?sampler_name=DPM%2B%2B%202M&accel=deepcache%3A2%2Btome%3A0.5&steps=10")
            XCTAssertEqual(encoded.status, .ok, encoded.text)
            let none = try await client.get("/dato/v1/plan-cost?steps=10")
            XCTAssertEqual(none.object["caching_mac_ratio"] as? Double, 1)
            let pruning = try await client.get("/dato/v1/plan-cost?accel=tome:0.5&steps=10")
            XCTAssertEqual(pruning.object["caching_mac_ratio"] as? Double, 1)
            XCTAssertTrue((pruning.object["pruning"] as? String ?? "").contains("tome"), pruning.text)
        }
    }

    func testBadQueryFieldsAre422() async throws {
        try await withServer { client in
            let plan = try await client.get("/dato/v1/plan-cost?accel=warp:9")
            XCTAssertEqual(plan.issueFields, ["accel"], plan.text)
            XCTAssertEqual((plan.object["detail"] as? [[String: Any]])?.first?["loc"] as? [String], ["query", "accel"])
            let steps = try await client.get("/dato/v1/plan-cost?steps=many")
            XCTAssertEqual(steps.issueFields, ["steps"], steps.text)
        }
    }
}
