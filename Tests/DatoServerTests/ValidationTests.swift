import DatoPipeline
import DatoServer
import Foundation
import HummingbirdTesting
import XCTest

/// Bad requests get FastAPI's 422 `{"detail": [{loc, msg, type}]}` naming every bad field; limits bound memory.
final class ValidationTests: XCTestCase {
    func testBadFieldsAreAllNamedIn422() async throws {
        try await withServer { client in
            let r = try await client.post("/sdapi/v1/txt2img", json: """
                {"prompt": 5, "width": 70, "height": 4096, "steps": 0, "batch_size": 100, "cfg_scale": "high", "send_images": "yes"}
                """)
            XCTAssertEqual(r.status, .unprocessableContent, r.text)
            XCTAssertEqual(Set(r.issueFields), ["prompt", "width", "height", "steps", "batch_size", "cfg_scale", "send_images"])
            let issues = r.object["detail"] as? [[String: Any]] ?? []
            let height = issues.first { ($0["loc"] as? [String]) == ["body", "height"] }
            XCTAssertEqual(height?["type"] as? String, "value_error.number.not_le")
            XCTAssertEqual((height?["ctx"] as? [String: Any])?["limit_value"] as? Int, 2048)
            XCTAssertEqual(issues.first { ($0["loc"] as? [String]) == ["body", "prompt"] }?["type"] as? String, "type_error.str")
        }
    }

    func testImagesPerRequestStepsAndSamplerLimits() async throws {
        try await withServer { client in
            let many = try await client.post("/sdapi/v1/txt2img", json: #"{"batch_size": 8, "n_iter": 3}"#)
            XCTAssertEqual(many.issueFields, ["n_iter"], many.text)
            let steps = try await client.post("/sdapi/v1/txt2img", json: #"{"steps": 151}"#)
            XCTAssertEqual(steps.issueFields, ["steps"], steps.text)
            let sampler = try await client.post("/sdapi/v1/txt2img", json: #"{"sampler_name": "Heun"}"#)
            XCTAssertEqual(sampler.issueFields, ["sampler_name"], sampler.text)
            let schedule = try await client.post("/sdapi/v1/txt2img", json: #"{"sampler_name": "Euler", "scheduler": "Karras"}"#)
            XCTAssertEqual(schedule.issueFields, ["scheduler"], schedule.text)
        }
    }

    func testBadPlansNameTheirField() async throws {
        try await withServer { client in
            let accel = try await client.post("/sdapi/v1/txt2img", json: #"{"accel": "warp:9"}"#)
            XCTAssertEqual(accel.issueFields, ["accel"], accel.text)
            let dato = try await client.post("/sdapi/v1/txt2img", json: #"{"override_settings": {"dato_accel": "tome:1.5"}}"#)
            XCTAssertEqual(dato.issueFields, ["override_settings.dato_accel"], dato.text)
            let tome = try await client.post("/sdapi/v1/txt2img", json: #"{"override_settings": {"token_merging_ratio": 2}}"#)
            XCTAssertEqual(tome.issueFields, ["override_settings.token_merging_ratio"], tome.text)
            // A plan is read from its text only: a path on the server is no plan.
            let file = try await client.post("/sdapi/v1/txt2img", json: #"{"accel": "/etc/passwd"}"#)
            XCTAssertEqual(file.issueFields, ["accel"], file.text)
            XCTAssertFalse(file.text.contains("root:"), file.text)
        }
    }

    func testUnknownModelBadJSONAndSaveImagesWithoutFolder() async throws {
        try await withServer { client in
            let model = try await client.post("/sdapi/v1/txt2img", json: #"{"override_settings": {"sd_model_checkpoint": "sd_xl_base_1.0"}}"#)
            XCTAssertEqual(model.issueFields, ["override_settings.sd_model_checkpoint"], model.text)
            let options = try await client.post("/sdapi/v1/options", json: #"{"sd_model_checkpoint": "sd_xl_base_1.0"}"#)
            XCTAssertEqual(options.issueFields, ["sd_model_checkpoint"], options.text)
            let broken = try await client.post("/sdapi/v1/txt2img", json: #"{"prompt": "#)
            XCTAssertEqual(broken.status, .unprocessableContent)
            XCTAssertEqual((broken.object["detail"] as? [[String: Any]])?.first?["type"] as? String, "value_error.jsondecode")
            let array = try await client.post("/sdapi/v1/txt2img", json: "[1]")
            XCTAssertEqual((array.object["detail"] as? [[String: Any]])?.first?["type"] as? String, "type_error.dict")
            let save = try await client.post("/sdapi/v1/txt2img", json: #"{"save_images": true}"#)
            XCTAssertEqual(save.issueFields, ["save_images"], save.text)
        }
    }

    func testHostileBodiesGet422() async throws {
        try await withServer { client in
            let deep = String(repeating: "[", count: 200_000)
            let nested = try await client.post("/sdapi/v1/txt2img", json: #"{"prompt": \#(deep)"#)
            XCTAssertEqual(nested.status, .unprocessableContent, nested.text)
            let huge = try await client.post("/sdapi/v1/txt2img", json: #"{"seed": 1e400, "steps": 99999999999999999999999, "width": -8, "n_iter": 0}"#)
            XCTAssertEqual(huge.status, .unprocessableContent, huge.text)
            let wrong = try await client.post("/sdapi/v1/txt2img", json: #"{"steps": 7.5, "width": -8, "n_iter": 0, "override_settings": [1]}"#)
            XCTAssertEqual(Set(wrong.issueFields), ["steps", "width", "n_iter", "override_settings"], wrong.text)
            let both = try await client.post("/sdapi/v1/txt2img", json: #"{"width": 65, "sampler_name": "Heun"}"#)
            XCTAssertEqual(Set(both.issueFields), ["width", "sampler_name"], both.text)
            let alive = try await client.get("/health")
            XCTAssertEqual(alive.status, .ok)
        }
    }

    func testBodyLargerThanTheLimitIs413() async throws {
        try await withServer({ $0.limits.bodyBytes = 1000 }) { client in
            let prompt = String(repeating: "a", count: 2000)
            let r = try await client.post("/sdapi/v1/txt2img", json: #"{"prompt": "\#(prompt)"}"#)
            XCTAssertEqual(r.status, .contentTooLarge, r.text)
            XCTAssertTrue((r.object["detail"] as? String ?? "").contains("1000 bytes"), r.text)
        }
    }

    func testSamplerNamesMapToSchedulers() throws {
        let cases: [(String, String?, SchedulerKind)] = [
            ("Euler", nil, .euler), ("Euler a", "Automatic", .eulerAncestral), ("k_euler_a", nil, .eulerAncestral),
            ("DDIM", nil, .ddim), ("PLMS", nil, .pndm), ("DPM++ 2M", nil, .dpmpp2mKarras),
            ("DPM++ 2M", "Karras", .dpmpp2mKarras), ("DPM++ 2M", "karras", .dpmpp2mKarras), ("DPM++ 2M", "Normal", .dpmpp2m),
            ("DPM++ 2M Karras", nil, .dpmpp2mKarras), ("dpm++ 2m", "", .dpmpp2mKarras),
        ]
        for (sampler, scheduler, kind) in cases {
            XCTAssertEqual(try SamplerCatalog.kind(sampler: sampler, scheduler: scheduler), kind, "\(sampler) / \(scheduler ?? "nil")")
        }
        XCTAssertThrowsError(try SamplerCatalog.kind(sampler: "Euler", scheduler: "Karras"))
        XCTAssertThrowsError(try SamplerCatalog.kind(sampler: "LMS", scheduler: nil))
    }
}
