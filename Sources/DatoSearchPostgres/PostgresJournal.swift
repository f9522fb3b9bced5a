import DatoSearch
import Foundation
import PostgresNIO

/// A search journal in a PostgreSQL database: one study of possibly many (`dato_*` tables, every row tagged
/// with its study), shared by the coordinator (`dato search`) and any number of workers
/// (`dato search-worker`) as a queue of candidates. Holds what the SQLite journal holds (the settings, with
/// the model identity, seeds and software version among them; every evaluation with its genome, decoded plan,
/// objectives, constraints and timings; each generation's front) plus the candidates and the workers.
public final class PostgresJournal: CandidateQueue {
    /// Who this process is in the study's worker table.
    public struct Worker: Sendable {
        public var id: String, host: String, pid: Int32
        public init(id: String, host: String, pid: Int32) { self.id = id; self.host = host; self.pid = pid }
    }

    let session: PostgresSession
    public let study: String
    public let worker: Worker
    /// The settings the study was started with.
    public let settings: [String: String]

    public var name: String { "study '\(study)' on \(session.location)" }

    /// Connects and opens `study`. With `settings` (the coordinator) a missing study is created with them and
    /// an existing one must have the same; without (a worker, a status query) the study must exist.
    /// A worker (`registers`) is listed in the study's worker table; a status query is not.
    public init(location: PostgresLocation, study: String, settings: [String: String]?, worker: Worker,
                registers: Bool = true, connectTimeout: Double = 10) throws {
        guard !study.isEmpty, study.utf8.count <= 200, !study.contains(where: { $0.isNewline || $0 == "\u{0}" }) else {
            throw SearchError("--study must be a name of 1 to 200 bytes on one line")
        }
        self.study = study
        self.worker = worker
        let session = try PostgresSession(location, connectTimeout: connectTimeout)
        self.session = session
        try PostgresSchema.create(session)
        let name = "study '\(study)' on \(location)"
        self.settings = try session.transaction {
            try session.query("SELECT pg_advisory_xact_lock(hashtext('dato study ' || \(study)))")
            let exists = try session.query("SELECT schema_version FROM dato_studies WHERE name = \(study)").first
            guard let exists else {
                guard let settings else {
                    throw SearchError("there is no \(name); start it with `dato search --journal URL --study \(study)` first")
                }
                try session.query("INSERT INTO dato_studies (name, schema_version) VALUES (\(study), \(PostgresSchema.version))")
                for (k, v) in settings.sorted(by: { $0.key < $1.key }) {
                    try session.query("INSERT INTO dato_settings (study, key, value) VALUES (\(study), \(k), \(v))")
                }
                return settings
            }
            let version = try exists.decode(Int.self)
            guard version == PostgresSchema.version else {
                throw SearchError("\(name) has schema version \(version); this dato reads version \(PostgresSchema.version); use another --study")
            }
            var stored: [String: String] = [:]
            for row in try session.query("SELECT key, value FROM dato_settings WHERE study = \(study)") {
                let (k, v) = try row.decode((String, String).self)
                stored[k] = v
            }
            if let settings {
                guard stored == settings else {
                    let keys = Set(stored.keys).union(settings.keys).filter { stored[$0] != settings[$0] }.sorted()
                    throw SearchError("\(name) was started with other settings (\(keys.map { "\($0): \(stored[$0] ?? "-") vs \(settings[$0] ?? "-")" }.joined(separator: "; "))); use another --study or the same options")
                }
                try session.query("UPDATE dato_studies SET finished = NULL WHERE name = \(study)")
            }
            return stored
        }
        guard registers else { return }
        try session.query("""
            INSERT INTO dato_workers (study, worker, host, pid) VALUES (\(study), \(worker.id), \(worker.host), \(Int(worker.pid)))
            ON CONFLICT (study, worker) DO UPDATE SET last_seen = now()
            """)
    }

    // MARK: JournalStore

    public func entry(for genome: [Double]) throws -> JournalEntry? {
        try session.query("\(unescaped: Self.columns) WHERE study = \(study) AND genome = \(SearchJournal.key(genome))").first.map(decode)
    }

    public func entries() throws -> [JournalEntry] {
        try session.query("\(unescaped: Self.columns) WHERE study = \(study) ORDER BY ordinal").map(decode)
    }

    public func record(_ e: JournalEntry) throws {
        try session.query(insert(e, replace: true))
    }

    public func recordGeneration(_ index: Int, evaluations: Int, front: [[Double]]) throws {
        try session.query("""
            INSERT INTO dato_generations (study, idx, evaluations, front) VALUES (\(study), \(index), \(evaluations), \(front.map(SearchJournal.key).joined(separator: ";")))
            ON CONFLICT (study, idx) DO UPDATE SET evaluations = EXCLUDED.evaluations, front = EXCLUDED.front
            """)
    }

    public func lastGeneration() throws -> Int {
        try session.query("SELECT COALESCE(MAX(idx), 0) FROM dato_generations WHERE study = \(study)").first?.decode(Int.self) ?? 0
    }

    // MARK: CandidateQueue

    public func enqueue(_ genomes: [[Double]], generation: Int) throws {
        guard !genomes.isEmpty else { return }
        try session.transaction {
            for g in genomes {
                try session.query("""
                    INSERT INTO dato_candidates (study, generation, genome) VALUES (\(study), \(generation), \(SearchJournal.key(g)))
                    ON CONFLICT (study, genome) DO NOTHING
                    """)
            }
        }
    }

    public func claim(grace: Double) throws -> Claim? {
        let rows = try session.query("""
            UPDATE dato_candidates SET state = 'running', worker = \(worker.id), claimed = now(), heartbeat = now(), attempts = attempts + 1
            WHERE id = (SELECT id FROM dato_candidates WHERE study = \(study)
                          AND (state = 'pending' OR (state = 'running' AND heartbeat < now() - make_interval(secs => \(grace))))
                        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING id, genome
            """)
        guard let row = rows.first else { return nil }
        let (id, key) = try row.decode((Int64, String).self)
        let genome = try JournalText.numbers(key, count: 0...1_000_000, integers: true) {
            SearchError("\(name) is damaged: candidate \(id), column genome: \($0)")
        }
        return Claim(id: id, genome: genome)
    }

    public func heartbeat(_ claim: Claim) throws {
        try session.query("UPDATE dato_candidates SET heartbeat = now() WHERE id = \(claim.id) AND worker = \(worker.id) AND state = 'running'")
        try session.query("UPDATE dato_workers SET last_seen = now() WHERE study = \(study) AND worker = \(worker.id)")
    }

    public func finish(_ claim: Claim, entry: JournalEntry) throws {
        try session.transaction {
            try session.query(insert(entry, replace: false))
            try session.query("UPDATE dato_candidates SET state = 'done', heartbeat = now() WHERE id = \(claim.id)")
            try session.query("UPDATE dato_workers SET evaluations = evaluations + 1, last_seen = now() WHERE study = \(study) AND worker = \(worker.id)")
        }
    }

    public func markFinished() throws {
        try session.query("UPDATE dato_studies SET finished = now() WHERE name = \(study)")
    }

    public func seen() throws {
        try session.query("UPDATE dato_workers SET last_seen = now() WHERE study = \(study) AND worker = \(worker.id)")
    }

    public func isFinished() throws -> Bool {
        try session.query("SELECT finished IS NOT NULL FROM dato_studies WHERE name = \(study)").first?.decode(Bool.self) ?? true
    }

    // MARK: Rows

    static let columns = "SELECT ordinal, genome, plan, objectives, constraints, quality_loss, mac_fraction, seconds FROM dato_evaluations"

    func insert(_ e: JournalEntry, replace: Bool) -> PostgresQuery {
        let conflict = replace ? """
            DO UPDATE SET plan = EXCLUDED.plan, objectives = EXCLUDED.objectives, constraints = EXCLUDED.constraints,
              quality_loss = EXCLUDED.quality_loss, mac_fraction = EXCLUDED.mac_fraction, seconds = EXCLUDED.seconds, worker = EXCLUDED.worker
            """ : "DO NOTHING"
        return """
            INSERT INTO dato_evaluations (study, genome, plan, objectives, constraints, quality_loss, mac_fraction, seconds, worker)
            VALUES (\(study), \(SearchJournal.key(e.genome)), \(e.plan), \(JournalText.list(e.evaluation.objectives)),
                    \(JournalText.list(e.evaluation.constraints)), \(e.qualityLoss), \(e.macFraction), \(e.seconds), \(worker.id))
            ON CONFLICT (study, genome) \(unescaped: conflict)
            """
    }

    /// One evaluation row, checked as the SQLite journal checks its rows.
    func decode(_ row: PostgresRow) throws -> JournalEntry {
        let (ordinal, genome, plan, objectives, constraints, loss, macs, seconds) =
            try row.decode((Int64, String, String, String, String, Double, Double, Double).self)
        func fail(_ column: String) -> (String) -> Error {
            { SearchError("\(self.name) is damaged: evaluation \(ordinal), column \(column): \($0); delete the row or start a new study") }
        }
        for (column, v) in [("quality_loss", loss), ("mac_fraction", macs), ("seconds", seconds)] where !v.isFinite {
            throw fail(column)("\(v) is not finite")
        }
        return JournalEntry(genome: try JournalText.numbers(genome, count: 0...1_000_000, integers: true, fail: fail("genome")), plan: plan,
                            evaluation: Evaluation(objectives: try JournalText.numbers(objectives, count: 2...2, fail: fail("objectives")),
                                                   constraints: try JournalText.numbers(constraints, count: 0...1, fail: fail("constraints"))),
                            qualityLoss: loss, macFraction: macs, seconds: seconds)
    }
}
