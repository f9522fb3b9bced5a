import DatoServer
import Foundation
import HTTPTypes
import HummingbirdTesting
import XCTest

/// The listing routes, options, health, the web page, img2img's answer and basic authentication.
final class RoutesTests: XCTestCase {
    func testListingsOptionsAndHealth() async throws {
        try await withServer { client in
            let samplers = try await client.get("/sdapi/v1/samplers").json as? [[String: Any]] ?? []
            XCTAssertEqual(samplers.compactMap { $0["name"] as? String }, ["DPM++ 2M", "Euler a", "Euler", "DDIM", "PLMS"])
            XCTAssertNotNil(samplers.first?["aliases"] as? [String])
            let schedulers = try await client.get("/sdapi/v1/schedulers").json as? [[String: Any]] ?? []
            XCTAssertEqual(schedulers.compactMap { $0["label"] as? String }, ["Automatic", "Karras", "Normal"])
            let models = try await client.get("/sdapi/v1/sd-models").json as? [[String: Any]] ?? []
            XCTAssertEqual(models.count, 1)
            let title = try XCTUnwrap(models.first?["title"] as? String)
            XCTAssertTrue(title.hasSuffix(" [0123456789]"), title)
            XCTAssertEqual(models.first?["hash"] as? String, "0123456789")
            let options = try await client.get("/sdapi/v1/options").object
            XCTAssertEqual(options["sd_model_checkpoint"] as? String, title)
            XCTAssertEqual(options["dato_native_size"] as? Int, 64)
            let set = try await client.post("/sdapi/v1/options", json: #"{"sd_model_checkpoint": "\#(title)", "CLIP_stop_at_last_layers": 2}"#)
            XCTAssertEqual(set.status, .ok, set.text)
            let health = try await client.get("/health")
            XCTAssertEqual(health.status, .ok)
            XCTAssertEqual(health.object["status"] as? String, "ok")
            let flags = try await client.get("/sdapi/v1/cmd-flags").object
            XCTAssertEqual(flags["api"] as? Bool, true)
        }
    }

    func testImg2ImgIsNotSupportedYet() async throws {
        try await withServer { client in
            let r = try await client.post("/sdapi/v1/img2img", json: #"{"init_images": []}"#)
            XCTAssertEqual(r.status, .notImplemented)
            XCTAssertTrue((r.object["detail"] as? String ?? "").contains("not supported yet"), r.text)
        }
    }

    func testUnknownRoutesAnswerAsFastAPI() async throws {
        try await withServer { client in
            let r = try await client.get("/sdapi/v1/no-such-route")
            XCTAssertEqual(r.status, .notFound)
            XCTAssertEqual(r.object["detail"] as? String, "Not Found", r.text)
        }
    }

    func testWebPageIsServedWithItsScriptAndStyle() async throws {
        try await withServer { client in
            let page = try await client.get("/")
            XCTAssertEqual(page.status, .ok)
            XCTAssertTrue(page.headers[.contentType]?.hasPrefix("text/html") == true)
            XCTAssertTrue(page.text.contains("<form id=\"form\""))
            XCTAssertFalse(page.text.contains("https://"), "no CDN")
            let script = try await client.get("/app.js")
            XCTAssertTrue(script.text.contains("/sdapi/v1/txt2img"))
            let style = try await client.get("/style.css")
            XCTAssertEqual(style.status, .ok)
        }
    }

    func testBasicAuthGuardsAllButHealth() async throws {
        try await withServer({ $0.credentials = [BasicCredential(user: "ann", password: "s3:cret")] }) { client in
            let none = try await client.get("/sdapi/v1/samplers")
            XCTAssertEqual(none.status, .unauthorized)
            XCTAssertEqual(none.headers[.wwwAuthenticate], "Basic")
            XCTAssertEqual(none.object["detail"] as? String, "Not authenticated")
            let wrong = try await client.get("/sdapi/v1/samplers", headers: [.authorization: "Basic " + Data("ann:nope".utf8).base64EncodedString()])
            XCTAssertEqual(wrong.status, .unauthorized)
            XCTAssertEqual(wrong.object["detail"] as? String, "Incorrect username or password")
            let right = try await client.get("/sdapi/v1/samplers", headers: [.authorization: "Basic " + Data("ann:s3:cret".utf8).base64EncodedString()])
            XCTAssertEqual(right.status, .ok)
            let health = try await client.get("/health"), page = try await client.get("/")
            XCTAssertEqual(health.status, .ok)
            XCTAssertEqual(page.status, .unauthorized, "the browser asks for the login on the page")
            let cost = try await client.get("/dato/v1/plan-cost")
            XCTAssertEqual(cost.status, .unauthorized)
        }
    }

    func testAPIAuthFlagParsing() throws {
        XCTAssertEqual(try BasicCredential.parseList("a:b,c:d:e"), [BasicCredential(user: "a", password: "b"), BasicCredential(user: "c", password: "d:e")])
        XCTAssertThrowsError(try BasicCredential.parseList("nopassword"))
        XCTAssertThrowsError(try BasicCredential.parseList("a:"))
    }
}
