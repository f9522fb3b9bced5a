@testable import DatoSearch
@testable import DatoSearchPostgres
import Foundation
import XCTest

/// The PostgreSQL journal against a real server (skipped without one): the records, the queue's claims and
/// their recovery after the grace period, the refusal of other settings, and clear errors for a server that
/// cannot be used.
final class PostgresJournalTests: XCTestCase {
    let settings = ["test": "postgres", "model_identity": "abc", "seeds": "3"]

    func open(_ study: String, worker: String = "w1", settings: [String: String]? = nil) throws -> PostgresJournal {
        try PostgresJournal(location: try PostgresTestServer.location(), study: study, settings: settings ?? self.settings,
                            worker: PostgresTestServer.worker(worker))
    }

    func entry(_ genome: [Double], loss: Double) -> JournalEntry {
        JournalEntry(genome: genome, plan: "plan \(genome)", evaluation: Evaluation(objectives: [loss, 0.5], constraints: [loss - 0.3]),
                     qualityLoss: loss, macFraction: 0.5, seconds: 0.25)
    }

    /// What is stored reads back the same, per study; a second study in the same database is separate.
    func testRecordsRoundTripPerStudy() throws {
        let study = PostgresTestServer.study("records")
        let j = try open(study)
        try j.record(entry([0, 2, 1], loss: 0.125))
        try j.record(entry([1, 1, 1], loss: 0.5))
        try j.recordGeneration(1, evaluations: 2, front: [[0, 2, 1]])
        XCTAssertEqual(try j.entries(), [entry([0, 2, 1], loss: 0.125), entry([1, 1, 1], loss: 0.5)])
        XCTAssertEqual(try j.entry(for: [1, 1, 1]), entry([1, 1, 1], loss: 0.5))
        XCTAssertNil(try j.entry(for: [2, 2, 2]))
        XCTAssertEqual(try j.lastGeneration(), 1)
        XCTAssertEqual(try open(study, worker: "w2", settings: nil).settings, settings, "a worker reads the study's settings")
        let other = try open(PostgresTestServer.study("records-other"))
        XCTAssertEqual(try other.entries(), [])
        XCTAssertEqual(try other.lastGeneration(), 0)
    }

    /// A study started with other settings is refused, naming the keys that differ; a worker cannot join a
    /// study that does not exist.
    func testOtherSettingsAndMissingStudyRefused() throws {
        let study = PostgresTestServer.study("settings")
        _ = try open(study)
        var changed = settings
        changed["seeds"] = "4"
        XCTAssertThrowsError(try open(study, settings: changed)) {
            XCTAssertTrue("\($0)".contains("other settings") && "\($0)".contains("seeds: 3 vs 4"), "\($0)")
        }
        XCTAssertThrowsError(try PostgresJournal(location: try PostgresTestServer.location(), study: PostgresTestServer.study("none"),
                                                 settings: nil, worker: PostgresTestServer.worker("w"))) {
            XCTAssertTrue("\($0)".contains("there is no study"), "\($0)")
        }
    }

    /// Two claimers never get the same candidate; a claim that stops heart-beating (a killed worker) goes back
    /// to the queue after the grace period, and is not taken before; a heart-beating claim is kept.
    func testAbandonedClaimReturnsAfterGrace() throws {
        let study = PostgresTestServer.study("grace")
        let dead = try open(study, worker: "dead"), alive = try open(study, worker: "alive")
        try dead.enqueue([[0, 0], [1, 1]], generation: 1)
        try dead.enqueue([[0, 0]], generation: 1)   // queued once
        let first = try XCTUnwrap(try dead.claim(grace: 1))
        let second = try XCTUnwrap(try alive.claim(grace: 1))
        XCTAssertNotEqual(first.genome, second.genome)
        XCTAssertNil(try alive.claim(grace: 1), "the other claim is fresh")
        try alive.finish(second, entry: entry(second.genome, loss: 0.1))
        Thread.sleep(forTimeInterval: 1.5)
        let recovered = try XCTUnwrap(try alive.claim(grace: 1), "the dead worker's claim is back after the grace period")
        XCTAssertEqual(recovered, first)
        // The recovered claim, heart-beaten, is not taken by another claimer.
        let hb = Heartbeat(every: 0.2) { try alive.heartbeat(recovered) }
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertNil(try dead.claim(grace: 1), "a heart-beating claim is kept")
        hb.stop()
        try alive.finish(recovered, entry: entry(recovered.genome, loss: 0.2))
        try dead.finish(first, entry: entry(first.genome, loss: 0.9))   // late result of the killed worker: ignored
        XCTAssertEqual(try alive.entries().map(\.qualityLoss), [0.1, 0.2])
        let status = try alive.status()
        XCTAssertEqual([status.pending, status.running, status.done], [0, 0, 2])
        XCTAssertEqual(status.workers.first { $0.worker == "alive" }?.evaluations, 2)
        XCTAssertFalse(try alive.isFinished())
        try dead.markFinished()
        XCTAssertTrue(try alive.isFinished())
    }

    /// A claim skips a candidate whose row another transaction holds (a claimer in the middle of its claim)
    /// instead of waiting for it or taking it too.
    func testClaimSkipsLockedCandidates() throws {
        let study = PostgresTestServer.study("locked")
        let claimer = try open(study, worker: "claimer"), holder = try open(study, worker: "holder")
        try claimer.enqueue([[0, 0], [1, 1]], generation: 1)
        try holder.session.query("BEGIN")
        let locked = try holder.session.query("SELECT genome FROM dato_candidates WHERE study = \(study) ORDER BY id LIMIT 1 FOR UPDATE").first?.decode(String.self)
        XCTAssertEqual(locked, "0,0")
        let released = DispatchSemaphore(value: 0)
        Thread {
            Thread.sleep(forTimeInterval: 2)
            _ = try? holder.session.query("ROLLBACK")
            released.signal()
        }.start()
        let started = Date()
        let claim = try XCTUnwrap(try claimer.claim(grace: 60))
        XCTAssertEqual(claim.genome, [1, 1], "the locked candidate is skipped")
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5, "the claim did not wait for the lock")
        released.wait()
    }

    /// Errors that say what is wrong: nothing listening, a wrong password, a missing database.
    func testClearConnectionErrors() throws {
        let server = try PostgresTestServer.location()
        var wrongPassword = server
        wrongPassword.user = "dato_pw"; wrongPassword.password = "not-the-password"
        var missing = server
        missing.database = "dato_no_such_database"
        var closed = server
        closed.port = try freePort()
        let cases: [(PostgresLocation, String)] = [(wrongPassword, "refused the login"), (missing, "database 'dato_no_such_database' does not exist"),
                                                   (closed, "cannot reach the PostgreSQL server")]
        for (location, expected) in cases {
            XCTAssertThrowsError(try PostgresJournal(location: location, study: "x", settings: [:], worker: PostgresTestServer.worker("w"), connectTimeout: 5)) {
                XCTAssertTrue("\($0)".contains(expected), "\($0)")
                XCTAssertFalse("\($0)".contains("not-the-password"), "\($0)")
            }
        }
    }

    /// The queue's own cost per evaluation (claim, one heartbeat, storing the result), printed for
    /// docs/methods/search.md; checks only that every candidate ends done once.
    func testQueueRoundTripTimes() throws {
        let study = PostgresTestServer.study("overhead")
        let j = try open(study)
        let n = 200
        try j.enqueue((0..<n).map { [Double($0), 1] }, generation: 1)
        var claim = 0.0, beat = 0.0, finish = 0.0
        func timed(_ total: inout Double, _ body: () throws -> Void) rethrows {
            let t = DispatchTime.now().uptimeNanoseconds
            try body()
            total += Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
        }
        for _ in 0..<n {
            var c: Claim?
            try timed(&claim) { c = try j.claim(grace: 60) }
            let taken = try XCTUnwrap(c)
            try timed(&beat) { try j.heartbeat(taken) }
            try timed(&finish) { try j.finish(taken, entry: entry(taken.genome, loss: 0.1)) }
        }
        XCTAssertNil(try j.claim(grace: 60))
        XCTAssertEqual(try j.status().done, n)
        print(String(format: "queue round trip over %d candidates: claim %.2f ms, heartbeat %.2f ms, result %.2f ms, total %.2f ms per evaluation",
                     n, claim / Double(n), beat / Double(n), finish / Double(n), (claim + beat + finish) / Double(n)))
    }

    /// A server that answers in another protocol (here an HTTP error, as a web server on the port would) is
    /// named as not PostgreSQL.
    func testServerThatIsNotPostgresIsNamed() throws {
        var server = try PostgresTestServer.location()
        let (listener, port) = try listen()
        defer { close(listener) }
        let answered = DispatchSemaphore(value: 0)
        Thread {
            let client = accept(listener, nil, nil)
            if client >= 0 {
                var buffer = [UInt8](repeating: 0, count: 256)
                _ = read(client, &buffer, buffer.count)
                let reply = Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8)
                _ = write(client, reply, reply.count)
                close(client)
            }
            answered.signal()
        }.start()
        server.port = port
        server.sslMode = .disable
        XCTAssertThrowsError(try PostgresJournal(location: server, study: "x", settings: [:], worker: PostgresTestServer.worker("w"), connectTimeout: 5)) {
            guard case PostgresJournalError.notPostgres = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue("\($0)".contains("does not answer as PostgreSQL does"), "\($0)")
        }
        _ = answered.wait(timeout: .now() + 5)
    }

    /// A listening loopback socket and its port.
    func listen() throws -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && Glibc.listen(fd, 1) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { close(fd); throw XCTSkip("no loopback socket") }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A loopback port with nothing listening (bound, then closed).
    func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw XCTSkip("no loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
