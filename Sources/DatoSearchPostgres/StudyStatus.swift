import DatoSearch
import PostgresNIO

/// Where a shared study stands (`dato search-status`): its generation, the candidates by state, each worker
/// and the evaluations so far.
public struct StudyStatus: Sendable {
    /// One process that joined the study.
    public struct WorkerRow: Sendable, Equatable {
        public var worker: String, host: String
        public var evaluations: Int
        /// Seconds since its last heartbeat or look at the queue.
        public var secondsSinceSeen: Double
    }

    public var study: String
    public var generation: Int
    public var finished: Bool
    public var pending = 0, running = 0, done = 0
    /// Claims made in all, and candidates claimed more than once (their first claimer stopped heart-beating).
    public var claims = 0, reclaimed = 0
    public var workers: [WorkerRow] = []
    public var entries: [JournalEntry] = []
}

extension PostgresJournal {
    /// Reads the study's status.
    public func status() throws -> StudyStatus {
        let finished = try session.query("SELECT finished IS NOT NULL FROM dato_studies WHERE name = \(study)").first?.decode(Bool.self) ?? false
        var status = StudyStatus(study: study, generation: try lastGeneration(), finished: finished)
        for row in try session.query("SELECT state, COUNT(*)::int FROM dato_candidates WHERE study = \(study) GROUP BY state") {
            let (state, n) = try row.decode((String, Int).self)
            switch state {
            case "pending": status.pending = n
            case "running": status.running = n
            default: status.done = n
            }
        }
        if let row = try session.query("""
            SELECT COALESCE(SUM(attempts), 0)::int, COUNT(*) FILTER (WHERE attempts > 1)::int FROM dato_candidates WHERE study = \(study)
            """).first {
            (status.claims, status.reclaimed) = try row.decode((Int, Int).self)
        }
        for row in try session.query("""
            SELECT worker, host, evaluations, EXTRACT(EPOCH FROM now() - last_seen)::float8 FROM dato_workers
            WHERE study = \(study) ORDER BY started
            """) {
            let (w, host, n, age) = try row.decode((String, String, Int, Double).self)
            status.workers.append(.init(worker: w, host: host, evaluations: n, secondsSinceSeen: age))
        }
        status.entries = try entries()
        return status
    }
}
