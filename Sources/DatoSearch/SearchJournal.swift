import Foundation

/// One evaluated plan as the journal keeps it.
public struct JournalEntry: Sendable, Equatable {
    public var genome: [Double]
    public var plan: String
    public var evaluation: Evaluation
    /// Raw measurements: mean quality loss, mean MAC fraction of the full run, mean denoising-loop seconds.
    public var qualityLoss: Double, macFraction: Double, seconds: Double

    public init(genome: [Double], plan: String, evaluation: Evaluation, qualityLoss: Double, macFraction: Double, seconds: Double) {
        self.genome = genome; self.plan = plan; self.evaluation = evaluation
        self.qualityLoss = qualityLoss; self.macFraction = macFraction; self.seconds = seconds
    }
}

/// The search's SQLite journal: the settings it was started with, every evaluation (written in its own
/// transaction as soon as it finishes) and each generation's front. A search restarted on the same journal
/// replays from its seed and takes finished evaluations from here, so none is lost or repeated.
public final class SearchJournal {
    let db: SQLite

    /// Opens or creates the journal; an existing one must have been made with the same `settings`.
    public init(path: String, settings: [String: String]) throws {
        db = try SQLite(path: path)
        try db.execute("CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        try db.execute("""
            CREATE TABLE IF NOT EXISTS evaluations (genome TEXT PRIMARY KEY, plan TEXT NOT NULL, objectives TEXT NOT NULL,
              constraints TEXT NOT NULL, quality_loss REAL NOT NULL, mac_fraction REAL NOT NULL, seconds REAL NOT NULL,
              created TEXT NOT NULL, ordinal INTEGER NOT NULL)
            """)
        try db.execute("CREATE TABLE IF NOT EXISTS generations (idx INTEGER PRIMARY KEY, evaluations INTEGER NOT NULL, front TEXT NOT NULL)")
        let stored = try Self.settings(db)
        if stored.isEmpty {
            try db.transaction {
                for (k, v) in settings.sorted(by: { $0.key < $1.key }) { try db.execute("INSERT INTO settings VALUES (?, ?)", [.text(k), .text(v)]) }
            }
        } else if stored != settings {
            let keys = Set(stored.keys).union(settings.keys).filter { stored[$0] != settings[$0] }.sorted()
            throw SearchError("journal '\(path)' was started with other settings (\(keys.map { "\($0): \(stored[$0] ?? "-") vs \(settings[$0] ?? "-")" }.joined(separator: "; "))); use a new --journal or the same options")
        }
    }

    /// The settings a journal was started with (for `--resume`).
    public static func settings(path: String) throws -> [String: String] {
        guard FileManager.default.fileExists(atPath: path) else { throw SearchError("no journal at '\(path)'") }
        return try settings(try SQLite(path: path))
    }

    static func settings(_ db: SQLite) throws -> [String: String] {
        try db.execute("CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        var out: [String: String] = [:]
        for row in try db.execute("SELECT key, value FROM settings") {
            if let k = row["key"]?.text, let v = row["value"]?.text { out[k] = v }
        }
        return out
    }

    static func key(_ genome: [Double]) -> String {
        genome.map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) }.joined(separator: ",")
    }

    /// The stored evaluation of a genome, if any.
    public func entry(for genome: [Double]) throws -> JournalEntry? {
        try db.execute("SELECT * FROM evaluations WHERE genome = ?", [.text(Self.key(genome))]).first.flatMap(Self.decode)
    }

    /// Every stored evaluation, in the order they were made.
    public func entries() throws -> [JournalEntry] {
        try db.execute("SELECT * FROM evaluations ORDER BY ordinal").compactMap(Self.decode)
    }

    /// Stores one evaluation (its own transaction).
    public func record(_ e: JournalEntry) throws {
        try db.transaction {
            let next = (try db.execute("SELECT COUNT(*) AS n FROM evaluations").first?["n"]?.integer ?? 0)
            try db.execute("INSERT OR REPLACE INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                .text(Self.key(e.genome)), .text(e.plan), .text(Self.list(e.evaluation.objectives)),
                .text(Self.list(e.evaluation.constraints)), .real(e.qualityLoss), .real(e.macFraction), .real(e.seconds),
                .text(ISO8601DateFormatter().string(from: Date())), .integer(next),
            ])
        }
    }

    /// Stores a generation's front (genome keys) and evaluation count.
    public func recordGeneration(_ index: Int, evaluations: Int, front: [[Double]]) throws {
        try db.transaction {
            try db.execute("INSERT OR REPLACE INTO generations VALUES (?, ?, ?)",
                           [.integer(index), .integer(evaluations), .text(front.map(Self.key).joined(separator: ";"))])
        }
    }

    /// The last generation recorded (0 if none).
    public func lastGeneration() throws -> Int {
        try db.execute("SELECT MAX(idx) AS g FROM generations").first?["g"]?.integer ?? 0
    }

    static func list(_ v: [Double]) -> String { v.map { String($0) }.joined(separator: ",") }
    static func parse(_ s: String) -> [Double] { s.isEmpty ? [] : s.split(separator: ",").compactMap { Double($0) } }

    static func decode(_ row: [String: SQLite.Value]) -> JournalEntry? {
        guard let g = row["genome"]?.text, let plan = row["plan"]?.text, let f = row["objectives"]?.text,
              let c = row["constraints"]?.text, let q = row["quality_loss"]?.real, let m = row["mac_fraction"]?.real,
              let s = row["seconds"]?.real else { return nil }
        return JournalEntry(genome: parse(g), plan: plan, evaluation: Evaluation(objectives: parse(f), constraints: parse(c)),
                            qualityLoss: q, macFraction: m, seconds: s)
    }
}
