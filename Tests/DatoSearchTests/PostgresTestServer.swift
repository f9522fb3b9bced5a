import DatoSearchPostgres
import Foundation
import XCTest

/// The PostgreSQL server the shared-search tests use: DATO_TEST_POSTGRES_URL (set by .ci/run, which starts one
/// with tools/postgres/start-test-server.sh). Without it, or when nothing answers there, the tests skip.
enum PostgresTestServer {
    static let variable = "DATO_TEST_POSTGRES_URL"

    /// The server's location, or an XCTSkip saying how to get one.
    static func location() throws -> PostgresLocation {
        guard let url = ProcessInfo.processInfo.environment[variable], !url.isEmpty else {
            throw XCTSkip("\(variable) is not set: start a server with `eval \"$(tools/postgres/start-test-server.sh --env)\"; export \(variable)`")
        }
        let location = try PostgresLocation(url: url)
        do {
            _ = try PostgresJournal(location: location, study: "probe", settings: [:], worker: worker("probe"), registers: false, connectTimeout: 5)
        } catch let e as PostgresJournalError {
            throw XCTSkip("the PostgreSQL server at \(variable) is not usable: \(e)")
        }
        return location
    }

    /// A study name no other test run uses.
    static func study(_ name: String) -> String { "\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }

    static func worker(_ id: String) -> PostgresJournal.Worker { .init(id: id, host: "test", pid: getpid()) }
}
