import DatoImage
import DatoServer
import Foundation
import HummingbirdTesting
import XCTest

/// POST /sdapi/v1/txt2img on the demo model: AUTOMATIC1111's response shape, PNGs with their parameters, seeds,
/// the sampler names and the acceleration fields.
final class Txt2ImgTests: XCTestCase {
    func testImageCarriesParametersAndInfoNamesTheRun() async throws {
        try await withServer { client in
            let r = try await client.post("/sdapi/v1/txt2img", json: """
                {"prompt": "a red circle", "negative_prompt": "blue", "seed": 42, "steps": 3, "cfg_scale": 5,
                 "width": 64, "height": 64, "sampler_name": "Euler a", "not_a_field": [1, 2]}
                """)
            XCTAssertEqual(r.status, .ok, r.text)
            let images = r.object["images"] as? [String] ?? []
            XCTAssertEqual(images.count, 1)
            let png = try PNGReader.decode([UInt8](try XCTUnwrap(Data(base64Encoded: images.first ?? ""))), name: "image 1")
            XCTAssertEqual(png.width, 64)
            let parameters = try XCTUnwrap(png.text["parameters"])
            XCTAssertTrue(parameters.hasPrefix("a red circle\nNegative prompt: blue\nSteps: 3, Sampler: Euler a, CFG scale: 5.0, Seed: 42, Size: 64x64"), parameters)
            let info = r.info
            XCTAssertEqual(info["seed"] as? Int, 42)
            XCTAssertEqual(info["all_seeds"] as? [Int], [42])
            XCTAssertEqual(info["prompt"] as? String, "a red circle")
            XCTAssertEqual(info["all_prompts"] as? [String], ["a red circle"])
            XCTAssertEqual(info["infotexts"] as? [String], [parameters])
            XCTAssertEqual(info["sampler_name"] as? String, "Euler a")
            XCTAssertEqual(info["steps"] as? Int, 3)
            XCTAssertEqual(info["cfg_scale"] as? Double, 5)
            XCTAssertEqual(info["width"] as? Int, 64)
            XCTAssertEqual(info["height"] as? Int, 64)
            XCTAssertEqual(info["sd_model_hash"] as? String, "0123456789")
            XCTAssertNotNil(info["sd_model_name"] as? String)
            XCTAssertEqual(info["dato_plan"] as? String, "none")
            XCTAssertEqual(info["dato_mac_ratio"] as? Double, 1)
            XCTAssertNotNil((info["dato_timings"] as? [String: Any])?["denoising_seconds"] as? Double)
            let echoed = r.object["parameters"] as? [String: Any] ?? [:]
            XCTAssertEqual(echoed["seed"] as? Int, 42)
            XCTAssertEqual(echoed["batch_size"] as? Int, 1)
            XCTAssertNil(echoed["not_a_field"])
        }
    }

    func testBatchAndIterationsUseConsecutiveSeedsAndSendImagesFalseSendsNone() async throws {
        try await withServer { client in
            let r = try await client.post("/sdapi/v1/txt2img", json: """
                {"prompt": "x", "seed": 7, "steps": 2, "width": 64, "height": 64, "batch_size": 2, "n_iter": 2, "send_images": false}
                """)
            XCTAssertEqual(r.status, .ok, r.text)
            XCTAssertEqual((r.object["images"] as? [String])?.count, 0)
            XCTAssertEqual(r.info["all_seeds"] as? [Int], [7, 8, 9, 10])
            XCTAssertEqual((r.info["infotexts"] as? [String])?.count, 4)
            XCTAssertEqual(r.info["sampler_name"] as? String, "Euler", "AUTOMATIC1111's API default sampler")
        }
    }

    func testRandomSeedIsReported() async throws {
        try await withServer { client in
            let r = try await client.post("/sdapi/v1/txt2img", json: #"{"prompt": "x", "seed": -1, "steps": 1, "width": 64, "height": 64}"#)
            XCTAssertEqual(r.status, .ok, r.text)
            let seed = try XCTUnwrap(r.info["seed"] as? Int)
            XCTAssertGreaterThanOrEqual(seed, 0)
            XCTAssertTrue((r.info["infotexts"] as? [String])?.first?.contains("Seed: \(seed),") == true)
        }
    }

    func testTokenMergingRatioRunsToMeAndAccelWinsOverIt() async throws {
        try await withServer { client in
            let tome = try await client.post("/sdapi/v1/txt2img", json: """
                {"prompt": "x", "seed": 1, "steps": 2, "width": 64, "height": 64, "override_settings": {"token_merging_ratio": 0.5}}
                """)
            XCTAssertEqual(tome.status, .ok, tome.text)
            XCTAssertTrue((tome.info["dato_plan"] as? String ?? "").contains("tome"), "\(tome.info["dato_plan"] ?? "nil")")
            XCTAssertLessThan(tome.info["dato_mac_ratio"] as? Double ?? 1, 1)
            XCTAssertTrue((tome.info["infotexts"] as? [String])?.first?.contains("Accel: ") == true)
            let cache = try await client.post("/sdapi/v1/txt2img", json: """
                {"prompt": "x", "seed": 1, "steps": 4, "width": 64, "height": 64, "accel": "deepcache:2",
                 "override_settings": {"token_merging_ratio": 0.5, "dato_accel": "dato:0.5"}}
                """)
            XCTAssertEqual(cache.status, .ok, cache.text)
            let plan = cache.info["dato_plan"] as? String ?? ""
            XCTAssertFalse(plan.contains("tome") || plan.contains("dato"), plan)
            XCTAssertLessThan(cache.info["dato_mac_ratio"] as? Double ?? 1, 1)
        }
    }

    func testDefaultAccelAppliesAndNoneTurnsItOff() async throws {
        try await withServer({ $0.defaultAccel = "deepcache:2" }) { client in
            let d = try await client.post("/sdapi/v1/txt2img", json: #"{"prompt": "x", "steps": 4, "width": 64, "height": 64}"#)
            XCTAssertLessThan(d.info["dato_mac_ratio"] as? Double ?? 1, 1, d.text)
            let n = try await client.post("/sdapi/v1/txt2img", json: #"{"prompt": "x", "steps": 4, "width": 64, "height": 64, "accel": "none"}"#)
            XCTAssertEqual(n.info["dato_mac_ratio"] as? Double, 1, n.text)
        }
    }

    func testModelCheckpointOverrideNamingTheLoadedModelRuns() async throws {
        try await withServer { client in
            let models = try await client.get("/sdapi/v1/sd-models").json as? [[String: Any]]
            let title = try XCTUnwrap(models?.first?["title"] as? String)
            let r = try await client.post("/sdapi/v1/txt2img", json: """
                {"prompt": "x", "steps": 1, "width": 64, "height": 64, "override_settings": {"sd_model_checkpoint": "\(title)"}}
                """)
            XCTAssertEqual(r.status, .ok, r.text)
        }
    }
}

/// POST /sdapi/v1/png-info reads back what txt2img wrote.
final class PNGInfoTests: XCTestCase {
    func testPNGInfoReadsTheParametersTxt2ImgWrote() async throws {
        try await withServer { client in
            let r = try await client.post("/sdapi/v1/txt2img", json: """
                {"prompt": "a cat, sitting", "negative_prompt": "dog", "seed": 9, "steps": 2, "width": 64, "height": 64, "accel": "deepcache:2"}
                """)
            let image = try XCTUnwrap((r.object["images"] as? [String])?.first)
            let info = try await client.post("/sdapi/v1/png-info", json: #"{"image": "data:image/png;base64,\#(image)"}"#)
            XCTAssertEqual(info.status, .ok, info.text)
            XCTAssertEqual(info.object["info"] as? String, (r.info["infotexts"] as? [String])?.first)
            let p = info.object["parameters"] as? [String: Any] ?? [:]
            XCTAssertEqual(p["Prompt"] as? String, "a cat, sitting")
            XCTAssertEqual(p["Negative prompt"] as? String, "dog")
            XCTAssertEqual(p["Seed"] as? String, "9")
            XCTAssertEqual(p["Size-1"] as? String, "64")
            XCTAssertEqual(p["Accel"] as? String, r.info["dato_plan"] as? String, "quoted values keep their commas")
            let bad = try await client.post("/sdapi/v1/png-info", json: #"{"image": "bm90IGEgcG5n"}"#)
            XCTAssertEqual(bad.issueFields, ["image"], bad.text)
        }
    }
}
