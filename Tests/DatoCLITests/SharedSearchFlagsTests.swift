import ArgumentParser
import DatoSearch
import DatoSearchPostgres
import Foundation
import XCTest
@testable import dato

/// The shared-search flags without a server: what they parse to and the errors that name them.
final class SharedSearchFlagsTests: XCTestCase {
    func testFlagsParse() throws {
        let s = try Search.parse(["--journal", "postgresql://u@h/db", "--study", "s1", "--no-evaluate", "--grace", "90"])
        XCTAssertEqual([s.journal, s.study], ["postgresql://u@h/db", "s1"])
        XCTAssertTrue(s.noEvaluate)
        XCTAssertEqual(s.grace, 90)
        let d = try Search.parse([])
        XCTAssertEqual([d.journal, d.study], ["search.sqlite", "default"])
        XCTAssertEqual(d.grace, 60)
        let w = try SearchWorker.parse(["--journal", "postgresql://u@h/db", "--study", "s1", "--grace", "5", "--poll", "0.1", "-m", "model"])
        XCTAssertEqual([w.journal, w.study, w.model], ["postgresql://u@h/db", "s1", "model"])
        XCTAssertEqual([w.grace, w.poll], [5, 0.1])
        XCTAssertEqual(try SearchStatus.parse(["--journal", "postgresql://u@h/db"]).study, "default")
    }

    func testBadValuesNameTheirFlag() {
        for (command, args, flag) in [(Search.self as ParsableCommand.Type, ["--grace", "0"], "--grace"),
                                      (SearchWorker.self, ["--journal", "postgresql://u@h/db", "--grace", "-1"], "--grace"),
                                      (SearchWorker.self, ["--journal", "postgresql://u@h/db", "--poll", "0"], "--poll"),
                                      (SearchWorker.self, [], "--journal")] {
            XCTAssertThrowsError(try command.parse(args), "\(args)") { XCTAssertTrue(command.message(for: $0).contains(flag), command.message(for: $0)) }
        }
    }

    /// An SQLite journal holds one search: --study and --no-evaluate need a server; workers and status need a URL.
    func testSQLiteJournalRefusesSharedOptions() throws {
        XCTAssertThrowsError(try JournalOpening.open("x.sqlite", study: "s1", settings: [:])) { XCTAssertTrue("\($0)".contains("--study"), "\($0)") }
        XCTAssertThrowsError(try JournalOpening.join("x.sqlite", study: "default", role: "worker")) { XCTAssertTrue("\($0)".contains("PostgreSQL URL"), "\($0)") }
        XCTAssertThrowsError(try Search.parse(["--journal", "x.sqlite", "--no-evaluate", "--prompts", "/nonexistent"]).search()) {
            XCTAssertTrue("\($0)".contains("--no-evaluate"), "\($0)")
        }
        XCTAssertThrowsError(try SearchStatus.parse(["--journal", "postgresql://u@h:0/db"]).run()) {
            XCTAssertTrue("\($0)".contains("port"), "\($0)")
        }
    }
}
