import ArgumentParser
import DatoSearch
import DatoSearchPostgres
import Foundation

/// `--journal` for the search commands: an SQLite file path, or a PostgreSQL URL whose missing parts come
/// from the PG* environment variables and ~/.pgpass (read here, in the CLI, and handed to the library as
/// explicit values).
enum JournalOpening {
    /// The store `dato search` writes to, and the queue when it is shared (PostgreSQL).
    static func open(_ journal: String, study: String, settings: [String: String]) throws -> (JournalStore, CandidateQueue?) {
        guard PostgresLocation.isURL(journal) else {
            guard study == defaultStudy else { throw ValidationError("--study names a study in a PostgreSQL --journal; an SQLite journal holds one search") }
            return (try SearchJournal(path: journal, settings: settings), nil)
        }
        let shared = try PostgresJournal(location: try location(journal), study: study, settings: settings, worker: worker("coordinator"))
        return (shared, shared)
    }

    static let defaultStudy = "default"

    /// Joins an existing study (workers, status).
    static func join(_ journal: String, study: String, role: String) throws -> PostgresJournal {
        guard PostgresLocation.isURL(journal) else {
            throw ValidationError("--journal must be a PostgreSQL URL (postgresql://user@host/db): workers share a study through a server")
        }
        return try PostgresJournal(location: try location(journal), study: study, settings: nil, worker: worker(role), registers: role == "worker")
    }

    /// This process in the worker table: "host:pid:role:random" (unique even for several in one process).
    static func worker(_ role: String) -> PostgresJournal.Worker {
        let host = ProcessInfo.processInfo.hostName
        return .init(id: "\(host):\(getpid()):\(role):\(String(UInt16.random(in: 0...UInt16.max), radix: 16))", host: host, pid: getpid())
    }

    /// The URL with libpq's defaults from the environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
    /// PGSSLMODE) and the password file (PGPASSFILE or ~/.pgpass, ignored like libpq does when others may read it).
    static func location(_ url: String) throws -> PostgresLocation {
        let env = ProcessInfo.processInfo.environment
        var d = PostgresLocation.Defaults()
        if let h = env["PGHOST"], !h.isEmpty, !h.hasPrefix("/") { d.host = h }
        if let p = env["PGPORT"], !p.isEmpty {
            guard let port = Int(p), (1...65535).contains(port) else { throw ValidationError("PGPORT '\(p.prefix(20))' is not a port number") }
            d.port = port
        }
        d.user = env["PGUSER"].flatMap { $0.isEmpty ? nil : $0 } ?? env["USER"] ?? NSUserName()
        d.password = env["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        d.database = env["PGDATABASE"].flatMap { $0.isEmpty ? nil : $0 }
        if let m = env["PGSSLMODE"], !m.isEmpty {
            guard let mode = PostgresLocation.SSLMode(rawValue: m) else { throw ValidationError("PGSSLMODE '\(m.prefix(20))' is not an sslmode") }
            d.sslMode = mode
        }
        d.passwordFile = passwordFile(env)
        return try PostgresLocation(url: url, defaults: d)
    }

    /// The password file's text, when it is a regular file only its owner may read (libpq's rule).
    static func passwordFile(_ env: [String: String]) -> String? {
        let path = env["PGPASSFILE"] ?? (NSHomeDirectory() as NSString).appendingPathComponent(".pgpass")
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_size < 1 << 20 else { return nil }
        guard st.st_mode & 0o077 == 0 else {
            FileHandle.standardError.write("warning: password file '\(path)' has group or world access; it is ignored (chmod 0600)\n")
            return nil
        }
        return FileManager.default.contents(atPath: path).flatMap { String(data: $0, encoding: .utf8) }
    }
}
