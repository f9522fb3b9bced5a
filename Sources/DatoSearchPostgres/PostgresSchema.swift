import PostgresNIO

/// The tables of PostgreSQL journals: one set per database, every row tagged with its study. Created
/// if missing, under an advisory lock so that processes starting together do not race.
enum PostgresSchema {
    /// Key of the advisory lock held while the tables are created ("DaTo" in ASCII).
    static let lockKey: Int64 = 0x4461_546F
    /// Stored with each study: the layout of its rows.
    static let version = 1

    static let statements: [String] = [
        """
        CREATE TABLE IF NOT EXISTS dato_studies (name TEXT PRIMARY KEY, schema_version INT NOT NULL,
          created TIMESTAMPTZ NOT NULL DEFAULT now(), finished TIMESTAMPTZ)
        """,
        """
        CREATE TABLE IF NOT EXISTS dato_settings (study TEXT NOT NULL REFERENCES dato_studies(name) ON DELETE CASCADE,
          key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (study, key))
        """,
        """
        CREATE TABLE IF NOT EXISTS dato_evaluations (study TEXT NOT NULL REFERENCES dato_studies(name) ON DELETE CASCADE,
          genome TEXT NOT NULL, plan TEXT NOT NULL, objectives TEXT NOT NULL, constraints TEXT NOT NULL,
          quality_loss DOUBLE PRECISION NOT NULL, mac_fraction DOUBLE PRECISION NOT NULL, seconds DOUBLE PRECISION NOT NULL,
          worker TEXT NOT NULL, created TIMESTAMPTZ NOT NULL DEFAULT now(), ordinal BIGSERIAL, PRIMARY KEY (study, genome))
        """,
        """
        CREATE TABLE IF NOT EXISTS dato_generations (study TEXT NOT NULL REFERENCES dato_studies(name) ON DELETE CASCADE,
          idx INT NOT NULL, evaluations INT NOT NULL, front TEXT NOT NULL, PRIMARY KEY (study, idx))
        """,
        """
        CREATE TABLE IF NOT EXISTS dato_candidates (id BIGSERIAL PRIMARY KEY,
          study TEXT NOT NULL REFERENCES dato_studies(name) ON DELETE CASCADE, generation INT NOT NULL, genome TEXT NOT NULL,
          state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done')),
          worker TEXT, claimed TIMESTAMPTZ, heartbeat TIMESTAMPTZ, attempts INT NOT NULL DEFAULT 0, UNIQUE (study, genome))
        """,
        "CREATE INDEX IF NOT EXISTS dato_candidates_queue ON dato_candidates (study, state, id)",
        """
        CREATE TABLE IF NOT EXISTS dato_workers (study TEXT NOT NULL REFERENCES dato_studies(name) ON DELETE CASCADE,
          worker TEXT NOT NULL, host TEXT NOT NULL, pid INT NOT NULL, started TIMESTAMPTZ NOT NULL DEFAULT now(),
          last_seen TIMESTAMPTZ NOT NULL DEFAULT now(), evaluations INT NOT NULL DEFAULT 0, PRIMARY KEY (study, worker))
        """,
    ]

    /// Creates the tables that are missing.
    static func create(_ session: PostgresSession) throws {
        try session.transaction {
            try session.query("SELECT pg_advisory_xact_lock(\(lockKey))")
            for sql in statements { try session.query(PostgresQuery(unsafeSQL: sql)) }
        }
    }
}
