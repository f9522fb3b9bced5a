import Foundation
import XCTest

/// Values the `dato` command line must take as values, not as flags: negative numbers where the help invites
/// them (issue 20: `-s -1` and `--max-quality-loss -1` were refused as unknown flags). Runs the `dato` binary that
/// `swift test` builds beside the test bundle; skipped when it is not there.
final class CommandLineValueTests: XCTestCase {
    func dato(_ arguments: [String]) throws -> (status: Int32, errors: String) {
        // On Linux the bundle is the build folder itself; elsewhere the .xctest bundle inside it.
        let bundle = Bundle(for: Self.self).bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("dato") }
        guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("no dato binary beside the test bundle \(bundle.path)")
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    func testNegativeSeedPicksOne() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("dato-seed-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let (status, errors) = try dato(["generate", "-p", "a red circle", "-s", "-1", "--steps", "1", "-o", out])
        XCTAssertEqual(status, 0, errors)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
    }

    func testNegativeQualityLossIsAValue() throws {
        let (status, errors) = try dato(["search", "--max-quality-loss", "-1", "--population", "0"])
        XCTAssertNotEqual(status, 0)
        XCTAssertFalse(errors.contains("Missing value"), errors)
        XCTAssertTrue(errors.contains("--population"), errors)
    }
}
