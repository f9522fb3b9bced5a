import Foundation

/// A PostgreSQL server, database and login, from a `postgresql://user[:password]@host[:port]/db[?sslmode=...]`
/// URL with the parts it leaves out taken from explicit defaults (the CLI fills these from the `PG*`
/// environment variables and ~/.pgpass). Its description never shows the password.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// libpq's sslmode values.
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca", verifyFull = "verify-full"
    }

    /// Values for what a URL leaves out (libpq's environment variables, as the caller read them).
    public struct Defaults: Sendable {
        public var host = "localhost", port = 5432
        public var user: String?, password: String?, database: String?
        public var sslMode = SSLMode.prefer
        /// The text of a password file (~/.pgpass format), consulted when neither the URL nor `password` has one.
        public var passwordFile: String?
        public init() {}
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode

    /// postgresql://user@host:port/database (no password).
    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "postgresql://\(user)@\(h):\(port)/\(database)"
    }

    /// The same as `description`: no password.
    public var debugDescription: String { description }

    /// What `dump` and mirrors show: every part but the password.
    public var customMirror: Mirror {
        Mirror(self, children: ["host": host, "port": port, "user": user, "database": database, "sslMode": sslMode,
                                "password": password == nil ? "none" : "(hidden)"])
    }

    /// Whether a `--journal` value names a PostgreSQL server rather than an SQLite file.
    public static func isURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgresql://") || lower.hasPrefix("postgres://")
    }

    public init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String, sslMode: SSLMode = .prefer) {
        self.host = host; self.port = port; self.user = user; self.password = password
        self.database = database; self.sslMode = sslMode
    }

    /// Parses a URL; parts it leaves out come from `defaults`. Errors name the part at fault, never the password.
    public init(url: String, defaults: Defaults = Defaults()) throws {
        guard url.utf8.count <= 4096 else { throw PostgresJournalError.badURL(field: "length", problem: "longer than 4096 bytes") }
        guard Self.isURL(url), let schemeEnd = url.range(of: "://") else {
            throw PostgresJournalError.badURL(field: "scheme", problem: "must start with postgresql:// or postgres://")
        }
        var rest = Substring(url[schemeEnd.upperBound...])
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") { query = rest[rest.index(after: q)...]; rest = rest[..<q] }
        let slash = rest.firstIndex(of: "/")
        let authority = slash.map { rest[..<$0] } ?? rest
        let path = slash.map { rest[rest.index(after: $0)...] } ?? ""
        var hostPort = authority
        var user: String?, password: String?
        if let at = authority.lastIndex(of: "@") {
            let info = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = info.firstIndex(of: ":") {
                user = try Self.decode(info[..<colon], field: "user")
                password = try Self.decode(info[info.index(after: colon)...], field: "password")
            } else {
                user = try Self.decode(info, field: "user")
            }
        }
        let (host, port) = try Self.hostAndPort(hostPort)
        let database = try Self.decode(path, field: "database")
        guard !database.contains("/") else { throw PostgresJournalError.badURL(field: "database", problem: "a database name has no '/'") }
        var sslMode = defaults.sslMode
        for item in query.split(separator: "&") where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try Self.decode(parts[0], field: "parameter")
            let value = parts.count > 1 ? try Self.decode(parts[1], field: key) : ""
            switch key {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw PostgresJournalError.badURL(field: "sslmode", problem: "'\(value.prefix(40))' is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            default:
                throw PostgresJournalError.badURL(field: "parameter", problem: "'\(key.prefix(40))' is not supported (only sslmode)")
            }
        }
        self.host = host.isEmpty ? defaults.host : host
        self.port = port ?? defaults.port
        guard let login = (user.flatMap { $0.isEmpty ? nil : $0 } ?? defaults.user), !login.isEmpty else {
            throw PostgresJournalError.badURL(field: "user", problem: "no user name: put one in the URL (postgresql://USER@host/db) or set PGUSER")
        }
        self.user = login
        self.database = database.isEmpty ? (defaults.database ?? login) : database
        self.sslMode = sslMode
        self.password = password ?? defaults.password
            ?? defaults.passwordFile.flatMap { PasswordFile.password(in: $0, host: self.host, port: self.port, database: self.database, user: login) }
    }

    /// host, [v6 address] or empty, then an optional :port in 1...65535.
    static func hostAndPort(_ text: Substring) throws -> (String, Int?) {
        var host = text, portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw PostgresJournalError.badURL(field: "host", problem: "'[' without ']'") }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw PostgresJournalError.badURL(field: "port", problem: "expected ':' after ']'") }
                portText = after.dropFirst()
            }
        } else if let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        let name = try decode(host, field: "host")
        guard name.utf8.count <= 255, !name.contains(where: { $0.isWhitespace || $0 == "/" || $0 == "@" }) else {
            throw PostgresJournalError.badURL(field: "host", problem: "'\(name.prefix(40))' is not a host name or address")
        }
        guard let portText, !portText.isEmpty else { return (name, nil) }
        guard portText.allSatisfy(\.isASCII), let port = Int(portText), (1...65535).contains(port) else {
            throw PostgresJournalError.badURL(field: "port", problem: "'\(portText.prefix(20))' is not a port number (1 to 65535)")
        }
        return (name, port)
    }

    /// Percent-decoding; the password's text is never repeated in an error.
    static func decode(_ text: Substring, field: String) throws -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw PostgresJournalError.badURL(field: field, problem: "bad percent-encoding")
        }
        guard !decoded.contains("\u{0}") else { throw PostgresJournalError.badURL(field: field, problem: "holds a NUL character") }
        return decoded
    }
}
