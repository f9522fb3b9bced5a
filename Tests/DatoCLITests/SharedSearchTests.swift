import ArgumentParser
import DatoSearch
import DatoSearchPostgres
import Foundation
import XCTest
@testable import dato

/// `dato search` on a PostgreSQL journal with `dato search-worker`s (in this process, on threads, each with its
/// own connection and pipeline), against the server in DATO_TEST_POSTGRES_URL (skipped without one).
final class SharedSearchTests: XCTestCase {
    func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["DATO_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw XCTSkip("DATO_TEST_POSTGRES_URL is not set: start a server with `eval \"$(tools/postgres/start-test-server.sh --env)\"; export DATO_TEST_POSTGRES_URL`")
        }
        do {
            _ = try PostgresJournal(location: try PostgresLocation(url: url), study: "probe", settings: [:],
                                    worker: .init(id: "probe", host: "test", pid: getpid()), registers: false, connectTimeout: 5)
        } catch let e as PostgresJournalError {
            throw XCTSkip("the PostgreSQL server at DATO_TEST_POSTGRES_URL is not usable: \(e)")
        }
        return url
    }

    func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-shared-search-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A prompts file (one prompt) in `dir`.
    func promptsFile(in dir: URL) throws -> String {
        let prompts = dir.appendingPathComponent("prompts.txt").path
        try "a small red circle at the top left on a blue background\n".write(toFile: prompts, atomically: true, encoding: .utf8)
        return prompts
    }

    /// A study name no other test run uses.
    func studyName(_ prefix: String) -> String { "\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }

    /// The arguments of a small search in `dir` (its prompts file, population 4, 3 generations, no presets, one
    /// thread, plus `options`) and the evaluations of that search run in this process on SQLite (the reference).
    func smallSearch(in dir: URL, _ options: [String]) throws -> (arguments: [String], single: [JournalEntry]) {
        let arguments = ["--prompts", try promptsFile(in: dir), "--population", "4", "--generations", "3", "--no-presets",
                         "--threads", "1"] + options
        return (arguments, try singleProcessEntries(arguments, in: dir))
    }

    /// The evaluations of the same search run in this process on an SQLite journal in `dir` (the reference).
    func singleProcessEntries(_ arguments: [String], in dir: URL) throws -> [JournalEntry] {
        let sqlite = dir.appendingPathComponent("single.sqlite").path
        try Search.parse(arguments + ["--journal", sqlite, "--out", dir.appendingPathComponent("single").path]).run()
        return try SearchJournal(path: sqlite, settings: try SearchJournal.settings(path: sqlite)).entries()
    }

    /// The study once its coordinator has made it (waiting up to a minute).
    func waitForStudy(_ url: String, _ study: String) throws -> PostgresJournal {
        var joined: PostgresJournal?
        for _ in 0..<600 where joined == nil {
            joined = try? JournalOpening.join(url, study: study, role: "status")
            if joined == nil { Thread.sleep(forTimeInterval: 0.1) }
        }
        return try XCTUnwrap(joined, "the coordinator made its study")
    }

    /// The genomes of the Pareto front of `entries`, as sorted keys.
    static func front(_ entries: [JournalEntry]) -> [String] {
        FrontReport.front(entries).map { SearchJournal.key($0.genome) }.sorted()
    }

    /// Runs `body` on a new thread; the returned closure waits for it and rethrows its error.
    func background(_ body: @escaping () throws -> Void) -> () throws -> Void {
        final class Outcome: @unchecked Sendable { var failure: Error? }
        let done = DispatchSemaphore(value: 0), outcome = Outcome()
        Thread {
            do { try body() } catch { outcome.failure = error }
            done.signal()
        }.start()
        return {
            guard done.wait(timeout: .now() + 600) == .success else { throw XCTSkip("a search thread did not end in 10 minutes") }
            if let failure = outcome.failure { throw failure }
        }
    }

    /// A coordinator (only coordinating) and two workers end with the front, and every evaluation, of the
    /// single-process SQLite run with the same seed (the analytical cost makes results independent of who
    /// evaluated what).
    func testCoordinatorAndTwoWorkersGiveTheSingleProcessFront() throws {
        let url = try serverURL()
        let dir = try folder()
        let (common, single) = try smallSearch(in: dir, ["--seeds", "3", "--steps", "4", "-W", "32", "-H", "32", "--seed", "5",
                                                         "--cost", "flops"])

        let study = studyName("shared")
        let coordinator = background {
            try Search.parse(common + ["--journal", url, "--study", study, "--no-evaluate", "--grace", "30", "--out", dir.appendingPathComponent("shared").path]).run()
        }
        let shared = try waitForStudy(url, study)
        let workers = (0..<2).map { _ in
            background { try SearchWorker.parse(["--journal", url, "--study", study, "--poll", "0.05", "--threads", "1"]).run() }
        }
        for w in workers { try w() }   // first: a failing worker fails the test instead of leaving the coordinator waiting
        try coordinator()

        let distributed = try shared.entries()
        func byGenome(_ entries: [JournalEntry]) -> [String: Evaluation] {
            Dictionary(entries.map { (SearchJournal.key($0.genome), $0.evaluation) }, uniquingKeysWith: { a, _ in a })
        }
        XCTAssertEqual(byGenome(distributed), byGenome(single), "the same genomes evaluated to the same objectives")
        XCTAssertEqual(distributed.count, single.count, "no genome evaluated twice")
        XCTAssertEqual(Self.front(distributed), Self.front(single))
        XCTAssertEqual(try shared.lastGeneration(), 3)
        let status = try shared.status()
        XCTAssertTrue(status.finished)
        XCTAssertEqual([status.pending, status.running], [0, 0])
        XCTAssertEqual(status.workers.filter { $0.worker.contains(":worker:") }.map(\.evaluations).reduce(0, +), distributed.count,
                       "the workers made every evaluation: \(status.workers)")
        XCTAssertEqual(Set(status.workers.map(\.worker)).count, 3, "a coordinator and two workers: \(status.workers)")
    }

    /// A worker whose model is not the study's is refused before it claims anything (the study is marked
    /// ended, so that a worker without the check would return instead of waiting).
    func testWorkerWithAnotherModelIsRefused() throws {
        let url = try serverURL()
        let study = studyName("other-model")
        let coordinator = try PostgresJournal(location: try PostgresLocation(url: url), study: study,
                                settings: ["prompts": "a red circle", "steps": "4", "model_identity": String(repeating: "0", count: 64),
                                           "version": Dato.configuration.version],
                                worker: .init(id: "coordinator", host: "test", pid: getpid()))
        try coordinator.markFinished()
        XCTAssertThrowsError(try SearchWorker.parse(["--journal", url, "--study", study, "--threads", "1"]).run()) {
            XCTAssertTrue("\($0)".contains("is not the one"), "\($0)")
        }
    }

    /// The `dato` binary that `swift test` builds beside the test bundle.
    func datoBinary() throws -> URL {
        let bundle = Bundle(for: Self.self).bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("dato") }
        guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("no dato binary beside the test bundle \(bundle.path)")
        }
        return binary
    }

    /// kill -9 of a worker process in mid-evaluation: its claim goes back to the queue after the grace period,
    /// another worker evaluates it, the study ends, and only that one candidate was claimed twice.
    func testKilledWorkerClaimIsRecoveredAfterGrace() throws {
        let url = try serverURL()
        let binary = try datoBinary()
        let dir = try folder()
        let prompts = try promptsFile(in: dir)
        let study = studyName("killed")
        let coordinator = background {
            try Search.parse(["--prompts", prompts, "--seeds", "3,4", "--population", "3", "--generations", "2", "--steps", "30",
                              "--no-presets", "--threads", "1", "--journal", url, "--study", study, "--no-evaluate", "--grace", "2",
                              "--out", dir.appendingPathComponent("out").path]).run()
        }
        let shared = try waitForStudy(url, study)
        let victim = Process()
        victim.executableURL = binary
        victim.arguments = ["search-worker", "--journal", url, "--study", study, "--grace", "2", "--poll", "0.05", "--threads", "1"]
        victim.standardOutput = FileHandle.nullDevice
        try victim.run()
        var running = false
        for _ in 0..<3000 where !running {
            running = try shared.status().running == 1
            if !running { Thread.sleep(forTimeInterval: 0.02) }
        }
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        XCTAssertTrue(running, "the worker process claimed a candidate")
        XCTAssertEqual(victim.terminationReason, .uncaughtSignal)
        let survivor = background { try SearchWorker.parse(["--journal", url, "--study", study, "--grace", "2", "--poll", "0.05", "--threads", "1"]).run() }
        try coordinator()
        try survivor()
        let status = try shared.status()
        XCTAssertTrue(status.finished)
        XCTAssertEqual([status.pending, status.running], [0, 0])
        XCTAssertEqual(status.done, status.entries.count)
        XCTAssertEqual(status.reclaimed, 1, "the killed worker's candidate was claimed again")
        XCTAssertEqual(status.claims, status.entries.count + 1, "no other candidate was claimed twice")
    }

    /// kill -9 of the coordinator process and the same command again: the study finishes with the front of the
    /// single-process SQLite run, and no candidate is evaluated twice.
    func testKilledCoordinatorRestartsAndFinishes() throws {
        let url = try serverURL()
        let binary = try datoBinary()
        let dir = try folder()
        let (common, single) = try smallSearch(in: dir, ["--seeds", "3,4", "--steps", "8", "--seed", "7"])
        let study = studyName("restart")
        let shared = common + ["--journal", url, "--study", study, "--no-evaluate", "--out", dir.appendingPathComponent("shared").path]
        let first = Process()
        first.executableURL = binary
        first.arguments = ["search"] + shared
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        let journal = try waitForStudy(url, study)
        let worker = background { try SearchWorker.parse(["--journal", url, "--study", study, "--grace", "5", "--poll", "0.05", "--threads", "1"]).run() }
        var done = 0
        for _ in 0..<3000 where done < 5 {
            done = try journal.status().done
            if done < 5 { Thread.sleep(forTimeInterval: 0.02) }
        }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        XCTAssertGreaterThanOrEqual(done, 5, "evaluations were stored before the kill")
        XCTAssertFalse(try journal.isFinished())
        try Search.parse(shared).run()
        try worker()
        let distributed = try journal.entries()
        XCTAssertEqual(Self.front(distributed), Self.front(single))
        XCTAssertEqual(Set(distributed.map { SearchJournal.key($0.genome) }), Set(single.map { SearchJournal.key($0.genome) }))
        let status = try journal.status()
        XCTAssertTrue(status.finished)
        XCTAssertEqual(status.claims, single.count, "no candidate evaluated twice")
    }

    /// Two coordinators started on one study (the same command twice) share its candidates: none is evaluated
    /// twice, and both end with the single-process front.
    func testTwoCoordinatorsDoNotEvaluateTheSameCandidate() throws {
        let url = try serverURL()
        let dir = try folder()
        let (common, single) = try smallSearch(in: dir, ["--seeds", "3", "--steps", "6", "--seed", "9"])
        let study = studyName("two")
        let coordinators = (0..<2).map { i in
            background { try Search.parse(common + ["--journal", url, "--study", study, "--out", dir.appendingPathComponent("shared\(i)").path]).run() }
        }
        for c in coordinators { try c() }
        let shared = try JournalOpening.join(url, study: study, role: "status")
        XCTAssertEqual(Self.front(try shared.entries()), Self.front(single))
        let status = try shared.status()
        XCTAssertEqual(status.claims, single.count, "every candidate claimed once")
        XCTAssertEqual(status.workers.count, 2)
    }
}
