@testable import DatoSearch
import Foundation
import XCTest

/// The external scorer (`--quality command:...`) under hostile commands: one that never ends, one that
/// prints without end, garbage output, a failing command, and dato interrupted while a scorer runs. Each
/// ends with an error, no process of the scorer's group left alive and its temporary folder removed.
final class ScorerProcessTests: XCTestCase {
    var dir: URL!
    var root: URL { dir.appendingPathComponent("tmp") }
    let image: [(pixels: [UInt8], width: Int, height: Int)] = [([UInt8](repeating: 9, count: 2 * 2 * 3), 2, 2)]

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("scorer-process-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var pidFile: String { dir.appendingPathComponent("pid").path }

    /// Runs the scorer on one image; returns the error and the seconds it took.
    func failure(_ command: String, timeout: Double = 30, line: UInt = #line) -> (String, Double) {
        let started = Date()
        var message = ""
        XCTAssertThrowsError(try QualityMetric.score(image, prompts: ["p"], command: command, timeout: timeout, temporaryRoot: root), line: line) {
            message = "\($0)"
        }
        return (message, Date().timeIntervalSince(started))
    }

    /// No live process is left in the group of the shell whose pid the command wrote, and the private
    /// temporary folder is gone.
    func assertCleanedUp(line: UInt = #line) throws {
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            XCTAssertEqual(ProcessGroup.liveMembers(pid), 0, "no scorer process left", line: line)
        } else {
            XCTFail("the scorer did not write its pid", line: line)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path), [], "temporary folder removed", line: line)
    }

    /// `sleep 100` with a 1 s timeout: an error naming the timeout within a few seconds (the original waited
    /// forever), the shell and its sleeping child both ended.
    func testTimeoutEndsTheWholeGroup() throws {
        let (message, seconds) = failure("echo $$ > \(pidFile); sleep 100 & sleep 100; wait", timeout: 1)
        XCTAssertTrue(message.contains("did not finish within 1.0 s"), message)
        XCTAssertLessThan(seconds, 6)
        try assertCleanedUp()
    }

    /// A scorer that ignores SIGTERM is killed after the grace period.
    func testSIGTERMIgnoringScorerIsKilled() throws {
        let (message, seconds) = failure("echo $$ > \(pidFile); trap '' TERM; sleep 100", timeout: 1)
        XCTAssertTrue(message.contains("did not finish"), message)
        XCTAssertLessThan(seconds, 8)
        try assertCleanedUp()
    }

    /// `yes 1` prints without end: refused once 1 MiB is read (the original read until memory ran out).
    func testEndlessOutputIsBounded() throws {
        let (message, seconds) = failure("echo $$ > \(pidFile); yes 1")
        XCTAssertTrue(message.contains("printed more than 1048576 bytes"), message)
        XCTAssertLessThan(seconds, 10)
        try assertCleanedUp()
    }

    /// Output that is not one finite number per image, and a failing command, are errors.
    func testGarbageOutputIsRefused() throws {
        for output in ["nan", "inf", "abc", "1 2", "", "0x", "1e999"] {
            let (message, _) = failure("echo $$ > \(pidFile); echo '\(output)'")
            XCTAssertTrue(message.contains("must print 1 finite numbers"), "\(output): \(message)")
            try assertCleanedUp()
        }
        let (message, _) = failure("echo $$ > \(pidFile); exit 3")
        XCTAssertTrue(message.contains("exited with status 3"), message)
        try assertCleanedUp()
        let (killed, _) = failure("echo $$ > \(pidFile); kill -9 $$")
        XCTAssertTrue(killed.contains("killed by signal 9"), killed)
    }

    /// A scorer that prints its score without reading a large input, and one that reads it all, both work.
    func testLargeInputReadOrNot() throws {
        let prompt = String(repeating: "a long prompt ", count: 20_000)
        XCTAssertEqual(try QualityMetric.score(image, prompts: [prompt], command: "echo 0.5", timeout: 30, temporaryRoot: root), [0.5])
        XCTAssertEqual(try QualityMetric.score(image, prompts: [prompt], command: "wc -c > /dev/null; echo 2", timeout: 30, temporaryRoot: root), [2])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path), [])
    }

    /// SIGINT while a scorer runs: the scorer's group is ended, its folder removed, and the search stops with
    /// `SearchInterrupted` (dato exits 130); the previous SIGINT disposition is restored afterwards.
    func testInterruptEndsTheScorer() throws {
        var before = sigaction()
        sigaction(SIGINT, nil, &before)
        let deliver = DispatchWorkItem { kill(getpid(), SIGINT) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 1, execute: deliver)
        let started = Date()
        XCTAssertThrowsError(try QualityMetric.score(image, prompts: ["p"], command: "echo $$ > \(pidFile); sleep 100",
                                                     timeout: 60, temporaryRoot: root)) { error in
            XCTAssertEqual((error as? SearchInterrupted)?.signal, SIGINT, "\(error)")
            XCTAssertEqual((error as? SearchInterrupted)?.exitCode, 130)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 8)
        try assertCleanedUp()
        var after = sigaction()
        sigaction(SIGINT, nil, &after)
        XCTAssertEqual(unsafeBitCast(after.__sigaction_handler.sa_handler, to: Int.self),
                       unsafeBitCast(before.__sigaction_handler.sa_handler, to: Int.self))
    }
}
