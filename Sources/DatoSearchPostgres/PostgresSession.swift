import Foundation
import PostgresNIO

/// One connection to a journal's server, used from synchronous code (the search runs on ordinary threads;
/// each statement waits for its result). Errors become `PostgresJournalError`s that name the server without
/// its password; PostgresNIO's own log is kept silent.
final class PostgresSession: @unchecked Sendable {
    let location: PostgresLocation
    let connection: PostgresConnection
    let logger: Logger

    /// Connects and logs in, then checks that the server is PostgreSQL.
    init(_ location: PostgresLocation, connectTimeout: Double = 10) throws {
        self.location = location
        var logger = Logger(label: "dato.search.postgres")
        logger.logLevel = .critical
        self.logger = logger
        do {
            var configuration = PostgresConnection.Configuration(host: location.host, port: location.port, username: location.user,
                                                                 password: location.password, database: location.database,
                                                                 tls: try Self.tls(location.sslMode))
            configuration.options.connectTimeout = .milliseconds(Int64(max(0.1, min(connectTimeout, 3600)) * 1000))
            let quiet = logger
            connection = try PostgresConnection.defaultEventLoopGroup.any().makeFutureWithTask {
                try await PostgresConnection.connect(configuration: configuration, id: 1, logger: quiet)
            }.wait()
        } catch {
            throw Self.explain(error, location, connecting: true)
        }
        let version = try query("SELECT current_setting('server_version_num')::int AS v")
        guard let v = try version.first?.decode(Int.self), v >= 90_500 else {
            throw PostgresJournalError.notPostgres(server: location.description, reason: "server_version_num below 90500 (PostgreSQL 9.5 has the SKIP LOCKED the queue needs)")
        }
    }

    /// Closes the connection (sessions are released on ordinary threads, never on an event loop).
    deinit { try? connection.close().wait() }

    /// The TLS setting for libpq's sslmode: allow and prefer try TLS without verifying, require insists on
    /// it without verifying, verify-ca checks the chain, verify-full the chain and the host name.
    static func tls(_ mode: PostgresLocation.SSLMode) throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case .disable: return .disable
        case .allow, .prefer: tls.certificateVerification = .none; return .prefer(try NIOSSLContext(configuration: tls))
        case .require: tls.certificateVerification = .none; return .require(try NIOSSLContext(configuration: tls))
        case .verifyCA: tls.certificateVerification = .noHostnameVerification; return .require(try NIOSSLContext(configuration: tls))
        case .verifyFull: tls.certificateVerification = .fullVerification; return .require(try NIOSSLContext(configuration: tls))
        }
    }

    /// Runs one statement and collects its rows.
    @discardableResult
    func query(_ q: PostgresQuery) throws -> PostgresQueryResult {
        do {
            return try connection.query(q, logger: logger).wait()
        } catch {
            throw Self.explain(error, location, connecting: false)
        }
    }

    /// Runs `body` in a transaction (rolled back when it throws).
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try query("BEGIN")
        do {
            let value = try body()
            try query("COMMIT")
            return value
        } catch {
            _ = try? query("ROLLBACK")
            throw error
        }
    }

    /// A clear error for what PostgresNIO or the server reported.
    static func explain(_ error: Error, _ location: PostgresLocation, connecting: Bool) -> PostgresJournalError {
        let server = location.description
        if let known = error as? PostgresJournalError { return known }
        if let decoding = error as? PostgresDecodingError {
            return .server(server: server, reason: "column \(decoding.columnName) holds \(decoding.postgresType), not what the journal stores there")
        }
        guard let psql = error as? PSQLError else {
            return connecting ? .unreachable(server: server, reason: short(error)) : .server(server: server, reason: short(error))
        }
        if let info = psql.serverInfo {
            let state = info[.sqlState] ?? "?"
            let message = info[.message] ?? "error"
            switch state {
            case "28P01", "28000": return .authentication(server: server, reason: message)
            case "3D000": return .missingDatabase(server: server, database: location.database)
            default: return .server(server: server, reason: "\(message) (SQLSTATE \(state))")
            }
        }
        switch psql.code {
        case .connectionError: return .unreachable(server: server, reason: psql.underlying.map(reason) ?? "no connection")
        case .authMechanismRequiresPassword: return .authentication(server: server, reason: "it asks for a password and none was given")
        case .unsupportedAuthMechanism, .saslError: return .authentication(server: server, reason: "\(psql.code)")
        case .sslUnsupported: return .tls(server: server, reason: "the server does not offer TLS (sslmode=prefer or disable connect without)")
        case .failedToAddSSLHandler: return .tls(server: server, reason: psql.underlying.map(short) ?? "no TLS handler")
        case .messageDecodingFailure, .unexpectedBackendMessage, .receivedUnencryptedDataAfterSSLRequest:
            return .notPostgres(server: server, reason: "\(psql.code)")
        case .serverClosedConnection, .uncleanShutdown:
            if let underlying = psql.underlying, !(underlying is PSQLError) { return .unreachable(server: server, reason: reason(underlying)) }
            return connecting ? .notPostgres(server: server, reason: "the connection was closed during the login")
                : .unreachable(server: server, reason: "the connection was lost")
        default: return .server(server: server, reason: "\(psql.code)")
        }
    }

    /// Why a connection failed, in a few words: the system's text for an errno, a timeout, or NIO's text.
    static func reason(_ error: Error) -> String {
        if let failure = error as? NIOConnectionError, let first = failure.connectionErrors.first?.error ?? failure.dnsAError ?? failure.dnsAAAAError {
            return reason(first)
        }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        if let channel = error as? ChannelError, case .connectTimeout(let t) = channel { return "no answer within \(t.nanoseconds / 1_000_000) ms" }
        return short(error)
    }

    /// An error's text, cut to 200 characters.
    static func short(_ error: Error) -> String {
        let text = "\(error)"
        return text.count > 200 ? String(text.prefix(200)) + "..." : text
    }
}
