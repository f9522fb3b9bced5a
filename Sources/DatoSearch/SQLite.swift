import CSQLite
import Foundation

/// A minimal SQLite connection for the search journal: statements with text/real/integer parameters.
final class SQLite {
    private var db: OpaquePointer?
    let path: String

    /// How a connection opens its file.
    enum Mode {
        /// Reading only: nothing in the file can change.
        case readOnly
        /// Reading and writing an existing file (never creating one).
        case readWrite
    }

    /// Opens an existing database file. No statement runs: the caller checks what the file is before
    /// anything is written to it.
    init(path: String, mode: Mode) throws {
        self.path = path
        let flags = mode == .readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        guard sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            db = nil
            throw SearchError("cannot open journal '\(path)': \(message)")
        }
        sqlite3_busy_timeout(db, 5000)
    }

    /// Write-ahead logging with full syncs: each committed evaluation survives a kill or a power loss.
    func enableWriteAheadLog() throws {
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
    }

    deinit { sqlite3_close(db) }

    enum Value { case text(String), real(Double), integer(Int), null }

    /// Runs one statement with parameters; returns the rows (each a column-name -> value map).
    @discardableResult
    func execute(_ sql: String, _ values: [Value] = []) throws -> [[String: Value]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else { throw error(sql) }
        defer { sqlite3_finalize(statement) }
        for (i, v) in values.enumerated() {
            let k = Int32(i + 1)
            switch v {
            case .text(let s): sqlite3_bind_text(statement, k, s, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            case .real(let d): sqlite3_bind_double(statement, k, d)
            case .integer(let n): sqlite3_bind_int64(statement, k, Int64(n))
            case .null: sqlite3_bind_null(statement, k)
            }
        }
        var rows: [[String: Value]] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error(sql) }
            var row: [String: Value] = [:]
            for c in 0..<sqlite3_column_count(statement) {
                let name = String(cString: sqlite3_column_name(statement, c))
                switch sqlite3_column_type(statement, c) {
                case SQLITE_INTEGER: row[name] = .integer(Int(sqlite3_column_int64(statement, c)))
                case SQLITE_FLOAT: row[name] = .real(sqlite3_column_double(statement, c))
                case SQLITE_TEXT: row[name] = .text(String(cString: sqlite3_column_text(statement, c)))
                default: row[name] = .null
                }
            }
            rows.append(row)
        }
        return rows
    }

    /// Runs `body` in one transaction (committed only if it returns normally).
    func transaction(_ body: () throws -> Void) throws {
        try execute("BEGIN IMMEDIATE")
        do {
            try body()
            try execute("COMMIT")
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    private func error(_ sql: String) -> SearchError {
        SearchError("journal '\(path)': \(String(cString: sqlite3_errmsg(db))) (in \(sql.prefix(60)))")
    }
}

extension SQLite.Value {
    var text: String? { if case .text(let s) = self { return s }; return nil }
    var real: Double? {
        switch self { case .real(let d): return d; case .integer(let n): return Double(n); default: return nil }
    }
    var integer: Int? { if case .integer(let n) = self { return n }; return nil }
}

/// A search error with a message a user can act on.
public struct SearchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
