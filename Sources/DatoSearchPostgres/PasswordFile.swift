/// libpq's password file (~/.pgpass): lines `hostname:port:database:username:password`, `*` matching
/// anything in the first four fields, `\:` and `\\` escaping, `#` starting a comment line; the first
/// matching line wins. The caller reads the file; this only reads its text.
public enum PasswordFile {
    /// The password of the first line that matches, or nil.
    public static func password(in text: String, host: String, port: Int, database: String, user: String) -> String? {
        let wanted = [host, String(port), database, user]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let fields = split(line)
            guard fields.count == 5 else { continue }
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// Splits one line at unescaped colons, removing the escapes.
    static func split(_ line: Substring) -> [String] {
        var fields: [String] = [], current = "", escaped = false
        for c in line {
            if escaped { current.append(c); escaped = false } else if c == "\\" { escaped = true } else if c == ":" {
                fields.append(current); current = ""
            } else { current.append(c) }
        }
        fields.append(current)
        return fields
    }
}
