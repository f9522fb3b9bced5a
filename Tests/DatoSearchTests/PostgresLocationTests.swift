import DatoSearchPostgres
import XCTest

/// `--journal` URLs: every part, the defaults for what a URL leaves out, errors that name the part and never
/// the password, and libpq's password-file rules.
final class PostgresLocationTests: XCTestCase {
    func testFullURL() throws {
        let l = try PostgresLocation(url: "postgresql://alice:s%3Acret@db.example.org:6543/studies?sslmode=require")
        XCTAssertEqual(l, PostgresLocation(host: "db.example.org", port: 6543, user: "alice", password: "s:cret", database: "studies", sslMode: .require))
        XCTAssertEqual(l.description, "postgresql://alice@db.example.org:6543/studies")
        var dumped = ""
        dump(l, to: &dumped)
        for shown in ["\(l)", String(reflecting: l), dumped, "\([l])"] { XCTAssertFalse(shown.contains("cret"), shown) }
        let v6 = try PostgresLocation(url: "postgres://bob@[::1]:5433/x")
        XCTAssertEqual(v6.host, "::1")
        XCTAssertEqual(v6.port, 5433)
        XCTAssertEqual(v6.description, "postgresql://bob@[::1]:5433/x")
    }

    func testDefaultsFillWhatTheURLLeavesOut() throws {
        var d = PostgresLocation.Defaults()
        d.host = "pg.local"; d.port = 7000; d.user = "carol"; d.password = "from-env"; d.sslMode = .disable
        let l = try PostgresLocation(url: "postgresql:///", defaults: d)
        XCTAssertEqual(l, PostgresLocation(host: "pg.local", port: 7000, user: "carol", password: "from-env", database: "carol", sslMode: .disable))
        d.password = nil
        d.passwordFile = "# comment\npg.local:7000:other:carol:wrong\n*:7000:carol:carol:from\\:file\n*:*:*:*:last"
        XCTAssertEqual(try PostgresLocation(url: "postgresql://pg.local:7000", defaults: d).password, "from:file")
        XCTAssertEqual(try PostgresLocation(url: "postgresql://carol:url@pg.local/carol", defaults: d).password, "url", "the URL's password wins")
    }

    func testPasswordFileMatching() {
        let text = "h:5432:db:u:one\n*:5433:*:u:two\nh\\:x:5432:db:u:three\nbroken line\n"
        XCTAssertEqual(PasswordFile.password(in: text, host: "h", port: 5432, database: "db", user: "u"), "one")
        XCTAssertEqual(PasswordFile.password(in: text, host: "other", port: 5433, database: "any", user: "u"), "two")
        XCTAssertEqual(PasswordFile.password(in: text, host: "h:x", port: 5432, database: "db", user: "u"), "three")
        XCTAssertNil(PasswordFile.password(in: text, host: "h", port: 5432, database: "db", user: "v"))
    }

    func testBadURLsNameTheirPart() {
        let cases: [(String, String)] = [
            ("mysql://u@h/db", "scheme"), ("postgresql://u@h:0/db", "port"), ("postgresql://u@h:99999/db", "port"),
            ("postgresql://u@h:5x/db", "port"), ("postgresql://u@[::1/db", "host"), ("postgresql://u@h/db?sslmode=maybe", "sslmode"),
            ("postgresql://u@h/db?application_name=x", "parameter"), ("postgresql://u:p%zz@h/db", "password"),
            ("postgresql://u@h/a/b", "database"), ("postgresql://u@h o/db", "host"),
        ]
        for (url, field) in cases {
            XCTAssertThrowsError(try PostgresLocation(url: url), url) { error in
                guard case PostgresJournalError.badURL(let f, _) = error else { return XCTFail("\(url): \(error)") }
                XCTAssertEqual(f, field, url)
                XCTAssertFalse("\(error)".contains("%zz"), "a password is never repeated: \(error)")
            }
        }
        var noUser = PostgresLocation.Defaults()
        noUser.user = nil
        XCTAssertThrowsError(try PostgresLocation(url: "postgresql://h/db", defaults: noUser)) { XCTAssertTrue("\($0)".contains("PGUSER"), "\($0)") }
        XCTAssertTrue(PostgresLocation.isURL("PostgreSQL://h/db"))
        XCTAssertFalse(PostgresLocation.isURL("search.sqlite"))
    }
}
