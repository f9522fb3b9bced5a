/// Why a PostgreSQL journal could not be used. Messages name the server as postgresql://user@host:port/db
/// and never hold a password.
public enum PostgresJournalError: Error, Equatable, CustomStringConvertible {
    /// The `--journal` URL is malformed: the part at fault and why.
    case badURL(field: String, problem: String)
    /// No server answered at host:port.
    case unreachable(server: String, reason: String)
    /// Something answered, but not as PostgreSQL does.
    case notPostgres(server: String, reason: String)
    /// The server refused the password (or asked for one that was not given).
    case authentication(server: String, reason: String)
    /// The database in the URL does not exist on the server.
    case missingDatabase(server: String, database: String)
    /// TLS could not be set up as the URL's sslmode asks.
    case tls(server: String, reason: String)
    /// The server reported an error for a statement of the journal.
    case server(server: String, reason: String)

    public var description: String {
        switch self {
        case .badURL(let field, let problem):
            "--journal: bad PostgreSQL URL (\(field)): \(problem); expected postgresql://user[:password]@host[:port]/database[?sslmode=disable|prefer|require|verify-ca|verify-full]"
        case .unreachable(let server, let reason):
            "cannot reach the PostgreSQL server \(server): \(reason); is it running and listening on that host and port?"
        case .notPostgres(let server, let reason):
            "the server at \(server) does not answer as PostgreSQL does (\(reason)); check the host and port"
        case .authentication(let server, let reason):
            "the PostgreSQL server \(server) refused the login: \(reason); check the user and password (URL, PGPASSWORD or ~/.pgpass)"
        case .missingDatabase(let server, let database):
            "database '\(database)' does not exist on the PostgreSQL server \(server); create it (createdb \(database)) or name another in the URL"
        case .tls(let server, let reason):
            "TLS with the PostgreSQL server \(server) failed: \(reason); check sslmode in the URL"
        case .server(let server, let reason):
            "the PostgreSQL server \(server) reported: \(reason)"
        }
    }
}
