import Foundation

/// The compact string form of a plan: `d:12,2*2,12;r:0.4*3;m:dato,levels=0+1`.
///
/// Fields are separated by `;`, each `key:value` with the keys `d` (depths, required), `r` (per-step
/// ratios) and `m` (the pruning method with its options, `PruningMethod`), each key at most once. A list is
/// comma-separated items `value` or `value*count` (count >= 1); a list expands to at most
/// `AccelerationPlan.maximumLength` entries, which is checked before anything is expanded. Ratios are written
/// in the shortest decimal form that reads back as the same `Float`, so `description` parses back to the
/// same plan.
extension AccelerationPlan {
    public var description: String {
        var parts = ["d:" + Self.runLength(depths.map(String.init))]
        if !ratios.isEmpty { parts.append("r:" + Self.runLength(ratios.map { Self.format($0) })) }
        if pruning.name != .none { parts.append("m:" + method) }
        return parts.joined(separator: ";")
    }

    /// A ratio with at most four decimals when that reads back exactly (0.4, not 0.4000), else the
    /// shortest decimal that does (0.12345).
    static func format(_ r: Float) -> String {
        var t = String(format: "%.4f", r)
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return Float(t) == r ? t : "\(r)"
    }

    static func runLength(_ values: [String]) -> String {
        var out: [String] = []
        var i = 0
        while i < values.count {
            var j = i
            while j + 1 < values.count, values[j + 1] == values[i] { j += 1 }
            let n = j - i + 1
            out.append(n > 1 ? "\(values[i])*\(n)" : values[i])
            i = j + 1
        }
        return out.joined(separator: ",")
    }

    /// Parses the compact form (`d:...;r:...;m:...`).
    public init(compact text: String) throws {
        guard text.utf8.count <= Self.maximumTextBytes else {
            throw PlanError("the plan is \(text.utf8.count) bytes long; at most \(Self.maximumTextBytes)")
        }
        var fields: [String: Substring] = [:]
        for field in text.split(separator: ";", omittingEmptySubsequences: false) {
            guard let colon = field.firstIndex(of: ":") else {
                throw PlanError("field '\(PlanError.excerpt(field))' is not 'key:value' (keys d, r, m)")
            }
            let key = field[..<colon].trimmingCharacters(in: .whitespaces)
            guard ["d", "r", "m"].contains(key) else { throw PlanError("unknown field '\(PlanError.excerpt(key))' (keys d, r, m)") }
            guard fields[key] == nil else { throw PlanError("field '\(key):' is given twice") }
            fields[key] = field[field.index(after: colon)...]
        }
        guard let d = fields["d"] else { throw PlanError("missing depths field 'd:'") }
        let depths = try Self.expand(d, field: "d", what: "depth") { Int($0) }
        let ratios = try fields["r"].map { r in
            try Self.expand(r, field: "r", what: "ratio") { Float($0).flatMap { $0.isFinite ? $0 : nil } }
        } ?? []
        let method = fields["m"].map { $0.trimmingCharacters(in: .whitespaces) } ?? "none"
        try self.init(depths: depths, ratios: ratios, method: method)
    }

    /// A comma-separated list of `value` and `value*count` items, expanded; at most `maximumLength` entries,
    /// checked before expanding each item.
    static func expand<T>(_ list: Substring, field: String, what: String, _ read: (String) -> T?) throws -> [T] {
        var out: [T] = []
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "*", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count <= 2, !parts[0].isEmpty else {
                throw PlanError("'\(PlanError.excerpt(item))' in field '\(field):' is not 'value' or 'value*count'")
            }
            guard let value = read(parts[0]) else {
                throw PlanError("\(what) '\(PlanError.excerpt(parts[0]))' in field '\(field):' is not \(what == "depth" ? "an integer" : "a finite number")")
            }
            var count = 1
            if parts.count == 2 {
                guard let n = Int(parts[1]), n >= 1 else {
                    throw PlanError("count '\(PlanError.excerpt(parts[1]))' in '\(PlanError.excerpt(item))' of field '\(field):' is not an integer >= 1")
                }
                count = n
            }
            let (total, overflow) = out.count.addingReportingOverflow(count)
            guard !overflow, total <= maximumLength else {
                throw PlanError("field '\(field):' expands to more than \(maximumLength) entries (a plan has one per UNet call or step)")
            }
            out += repeatElement(value, count: count)
        }
        return out
    }
}
