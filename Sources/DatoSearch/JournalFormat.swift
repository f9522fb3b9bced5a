import CSQLite
import Foundation

/// What makes an SQLite file a swift-dato search journal, and how one is made: a new journal is built
/// under a temporary name with its application id, schema version and tables, then linked into place, so a
/// journal path never holds a half-made journal. An existing file is checked before SQLite opens it for
/// writing: a regular file whose SQLite header carries the journal's application id and schema version, with
/// the journal's tables. Anything else (another program's database, a PNG, a FIFO, a folder) is refused with
/// not a byte of it changed.
enum JournalFormat {
    /// `PRAGMA application_id` of every journal: "DaTo" in ASCII.
    static let applicationID: Int32 = 0x4461_546F
    /// `PRAGMA user_version`: the journal's schema version.
    static let schemaVersion: Int32 = 1

    /// The tables and their columns, in order.
    static let tables: [(name: String, columns: [String], sql: String)] = [
        ("settings", ["key", "value"], "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)"),
        ("evaluations", ["genome", "plan", "objectives", "constraints", "quality_loss", "mac_fraction", "seconds", "created", "ordinal"],
         """
         CREATE TABLE evaluations (genome TEXT PRIMARY KEY, plan TEXT NOT NULL, objectives TEXT NOT NULL,
           constraints TEXT NOT NULL, quality_loss REAL NOT NULL, mac_fraction REAL NOT NULL, seconds REAL NOT NULL,
           created TEXT NOT NULL, ordinal INTEGER NOT NULL)
         """),
        ("generations", ["idx", "evaluations", "front"],
         "CREATE TABLE generations (idx INTEGER PRIMARY KEY, evaluations INTEGER NOT NULL, front TEXT NOT NULL)"),
    ]

    /// Opens the journal at `path`, creating it when nothing is there (if `create`). Nothing is written to an
    /// existing file before it is known to be a journal.
    static func connect(_ path: String, mode: SQLite.Mode, create: Bool) throws -> SQLite {
        guard !path.isEmpty else { throw SearchError("the journal path is empty: give --journal FILE") }
        if try !exists(path) {
            guard create else { throw SearchError("no journal at '\(path)'") }
            try make(path)
        }
        try checkHeader(path)
        let db = try SQLite(path: path, mode: mode)
        try checkTables(db)
        return db
    }

    /// Whether something is at `path`; it must be a regular file (a symbolic link to one counts).
    static func exists(_ path: String) throws -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT {
                var link = stat()
                if lstat(path, &link) == 0 { throw SearchError("journal '\(path)' is a symbolic link to nothing") }
                return false
            }
            throw SearchError("cannot use journal '\(path)': \(String(cString: strerror(errno)))")
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw SearchError("journal '\(path)' is not a regular file (\(kind(st.st_mode))); give a file path for --journal")
        }
        return true
    }

    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }

    /// Reads the first 100 bytes (SQLite's database header) without SQLite and checks the magic string, the
    /// application id (offset 68) and the schema version (offset 60).
    static func checkHeader(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw SearchError("cannot read journal '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw SearchError("journal '\(path)' is not a regular file; give a file path for --journal")
        }
        var header = [UInt8](repeating: 0, count: 100)
        let n = header.withUnsafeMutableBytes { buffer in buffer.baseAddress.map { pread(fd, $0, 100, 0) } ?? -1 }
        let refusal = "give a new --journal path (the file is left as it is)"
        guard n == 100, header.starts(with: Array("SQLite format 3\u{0}".utf8)) else {
            throw SearchError("'\(path)' is not a swift-dato search journal (not an SQLite database); \(refusal)")
        }
        func int32(_ at: Int) -> Int32 {
            Int32(bitPattern: UInt32(header[at]) << 24 | UInt32(header[at + 1]) << 16 | UInt32(header[at + 2]) << 8 | UInt32(header[at + 3]))
        }
        let id = int32(68), version = int32(60)
        guard id == applicationID else {
            throw SearchError("'\(path)' is an SQLite database but not a swift-dato search journal (application id \(String(format: "0x%08X", id)), "
                + "a journal's is \(String(format: "0x%08X", applicationID)); a journal made by an older swift-dato has none either); \(refusal)")
        }
        guard version == schemaVersion else {
            throw SearchError("journal '\(path)' has schema version \(version); this dato reads version \(schemaVersion); \(refusal)")
        }
    }

    /// Checks that the journal's tables exist with their columns (reads only).
    static func checkTables(_ db: SQLite) throws {
        for table in tables {
            let columns = try db.execute("SELECT name FROM pragma_table_info(?) ORDER BY cid", [.text(table.name)]).compactMap { $0["name"]?.text }
            guard columns == table.columns else {
                let found = columns.isEmpty ? "missing" : "with columns \(columns.joined(separator: ", "))"
                throw SearchError("journal '\(db.path)' is damaged: table '\(table.name)' is \(found), expected columns \(table.columns.joined(separator: ", "))")
            }
        }
    }

    /// Builds an empty journal under a temporary name beside `path` and links it into place (if another process
    /// made one there first, that one is kept).
    static func make(_ path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".dato-journal-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SearchError("cannot create journal '\(path)': \(String(cString: strerror(errno)))") }
        close(fd)
        defer { unlink(temporary); unlink(temporary + "-journal") }
        do {
            let db = try SQLite(path: temporary, mode: .readWrite)
            // In rollback mode, so that the header on disk holds the id and version before any WAL exists.
            try db.execute("PRAGMA application_id=\(applicationID)")
            try db.execute("PRAGMA user_version=\(schemaVersion)")
            try db.transaction { for table in tables { try db.execute(table.sql) } }
        } catch let e as SearchError {
            throw SearchError("cannot create journal '\(path)': \(e.description)")
        }
        if link(temporary, path) == 0 || errno == EEXIST { return }
        // A file system without hard links: rename, unless something appeared at the path meanwhile.
        guard try !exists(path) else { return }
        guard rename(temporary, path) == 0 else {
            throw SearchError("cannot create journal '\(path)': \(String(cString: strerror(errno)))")
        }
    }
}
