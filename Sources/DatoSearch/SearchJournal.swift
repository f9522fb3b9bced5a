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
public final class SearchJournal: JournalStore {
    let db: SQLite

    /// The journal's file.
    public var path: String { db.path }
    /// "journal 'PATH'", as messages name it.
    public var name: String { "journal '\(path)'" }

    /// Opens or creates the journal; an existing one must have been made with the same `settings`. A file that
    /// is not a swift-dato journal (or not a regular file) is refused before anything is written to it.
    public init(path: String, settings: [String: String]) throws {
        db = try JournalFormat.connect(path, mode: .readWrite, create: true)
        try db.enableWriteAheadLog()
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

    /// The settings a journal was started with (for `--resume`); the file is only read.
    public static func settings(path: String) throws -> [String: String] {
        try settings(try JournalFormat.connect(path, mode: .readOnly, create: false))
    }

    static func settings(_ db: SQLite) throws -> [String: String] {
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
        try db.execute("SELECT rowid AS row_id, * FROM evaluations WHERE genome = ?", [.text(Self.key(genome))]).first.map(decode)
    }

    /// Every stored evaluation, in the order they were made. A damaged row is an error naming it.
    public func entries() throws -> [JournalEntry] {
        try db.execute("SELECT rowid AS row_id, * FROM evaluations ORDER BY ordinal").map(decode)
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

    static func list(_ v: [Double]) -> String { JournalText.list(v) }

    /// One evaluation row, checked: a row that does not hold what `record` writes (an edited or damaged
    /// journal) is an error naming the journal, the row and the column.
    func decode(_ row: [String: SQLite.Value]) throws -> JournalEntry {
        let id = row["row_id"]?.integer.map(String.init) ?? "?"
        func fail(_ column: String, _ problem: String) -> SearchError {
            SearchError("journal '\(path)' is damaged: evaluations row \(id), column \(column): \(problem); remove the row or start a new journal")
        }
        func text(_ column: String) throws -> String {
            guard let t = row[column]?.text else { throw fail(column, "not text") }
            return t
        }
        func number(_ column: String) throws -> Double {
            guard let v = row[column]?.real else { throw fail(column, "not a number") }
            guard v.isFinite else { throw fail(column, "\(v) is not finite") }
            return v
        }
        func numbers(_ column: String, count: ClosedRange<Int>, integers: Bool = false) throws -> [Double] {
            try JournalText.numbers(try text(column), count: count, integers: integers) { fail(column, $0) }
        }
        let objectives = try numbers("objectives", count: 2...2)
        let constraints = try numbers("constraints", count: 0...1)
        return JournalEntry(genome: try numbers("genome", count: 0...1_000_000, integers: true), plan: try text("plan"),
                            evaluation: Evaluation(objectives: objectives, constraints: constraints),
                            qualityLoss: try number("quality_loss"), macFraction: try number("mac_fraction"), seconds: try number("seconds"))
    }
}
