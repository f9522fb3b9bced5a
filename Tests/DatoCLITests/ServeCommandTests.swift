import ArgumentParser
import DatoServer
import Foundation
import XCTest
@testable import dato

/// `dato serve`'s flags (AUTOMATIC1111's names where it has them), their defaults and their errors.
final class ServeCommandTests: XCTestCase {
    private func error(_ arguments: [String]) -> String? {
        do {
            _ = try Serve.parse(arguments)
            return nil
        } catch {
            return Serve.message(for: error)
        }
    }

    func testFlagsAndDefaults() throws {
        let d = try Serve.parse([])
        XCTAssertEqual(d.host, "127.0.0.1")
        XCTAssertEqual(d.port, 7860)
        XCTAssertEqual(d.queueSize, 8)
        XCTAssertNil(d.modelOptions.model)
        let s = try Serve.parse(["-m", "model", "--host", "0.0.0.0", "--port", "0", "--precision", "bf16", "-t", "2",
                                 "--default-accel", "deepcache:3", "--api-auth", "ann:pw,bob:x:y", "--queue-size", "0",
                                 "--output-dir", "out", "--parallel", "2", "--model-dir", "models",
                                 "--max-side", "1024", "--max-steps", "60", "--max-images", "4", "--vae-tiling"])
        let settings = try s.settings()
        XCTAssertEqual(settings.host, "0.0.0.0")
        XCTAssertEqual(settings.port, 0)
        XCTAssertEqual(settings.queueSize, 0)
        XCTAssertEqual(settings.defaultAccel, "deepcache:3")
        XCTAssertEqual(settings.credentials, [BasicCredential(user: "ann", password: "pw"), BasicCredential(user: "bob", password: "x:y")])
        XCTAssertEqual(settings.outputDirectory, "out")
        XCTAssertEqual(settings.parallel, 2)
        XCTAssertEqual(settings.limits.side, 1024)
        XCTAssertEqual(settings.limits.steps, 60)
        XCTAssertEqual(settings.limits.imagesPerRequest, 4)
        XCTAssertEqual(settings.limits.batchSize, 4)
        XCTAssertTrue(s.vaeTiling)
        XCTAssertEqual(s.modelDir, "models")
        XCTAssertEqual(d.parallel, 1)
        XCTAssertEqual(s.modelOptions.precision, .bf16)
        XCTAssertTrue(try Dato.parseAsRoot(["serve", "--port", "7861"]) is Serve)
    }

    func testAPlanFileIsReadOnceAtStart() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("serve-plan-\(getpid()).json").path
        try #"{"depths": [12, 2, 12, 2], "method": "none"}"#.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let settings = try Serve.parse(["--default-accel", path]).settings()
        XCTAssertEqual(settings.defaultAccel?.contains("\"depths\""), true, "the file's JSON, not its path")
    }

    func testBadValuesNameTheirFlag() {
        XCTAssertTrue(error(["--port", "70000"])?.contains("--port") == true)
        XCTAssertTrue(error(["--queue-size", "-1"])?.contains("--queue-size") == true)
        XCTAssertTrue(error(["--api-auth", "nopassword"])?.contains("--api-auth") == true)
        XCTAssertTrue(error(["--default-accel", "warp:9"]) != nil)
        XCTAssertTrue(error(["-t", "0"])?.contains("--threads") == true)
        XCTAssertTrue(error(["--parallel", "0"])?.contains("--parallel") == true)
        XCTAssertTrue(error(["--max-side", "5000"])?.contains("--max-side") == true)
    }
}
