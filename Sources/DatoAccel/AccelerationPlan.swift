import Foundation

/// What to accelerate in one denoising run: a cache depth per UNet call and a prune ratio per step
/// (shared/spec/caching.md section 2 owns the meaning; README glossary of the specs).
///
/// Compact string form: `d:12,2*2,12,2*2;r:0.4*5;m:none`: depths (run-length `value*count`), optional
/// per-step ratios, optional pruning method. JSON form: `{"depths": [...], "ratios": [...], "method": "none"}`.
public struct AccelerationPlan: Codable, Equatable, Sendable, CustomStringConvertible {
    /// Depth per UNet call: 12 full, 1...11 partial (recompute D_0..D_{d-1} and U_{d-1}..U_0), 0 repeat.
    public var depths: [Int]
    /// Prune ratio per denoising step (empty: no pruning).
    public var ratios: [Float]
    /// The token-pruning method with its options, e.g. "none", "dato", "atedm,temporal" (`PruningMethod`).
    public var method: String

    public static let fullDepth = 12

    public init(depths: [Int], ratios: [Float] = [], method: String = "none") throws {
        self.depths = depths
        self.ratios = ratios
        self.method = method
        try validateValues()
    }

    /// A plan of full calls only (the unaccelerated run).
    public static func full(calls: Int) -> AccelerationPlan {
        AccelerationPlan(unchecked: Array(repeating: fullDepth, count: calls))
    }

    init(unchecked depths: [Int]) {
        self.depths = depths
        ratios = []
        method = "none"
    }

    func validateValues() throws {
        guard !depths.isEmpty else { throw PlanError("the plan has no depths") }
        guard depths[0] == Self.fullDepth else { throw PlanError("depth of call 0 must be 12 (the first call of a run is full), got \(depths[0])") }
        if let (k, d) = depths.enumerated().first(where: { !(0...Self.fullDepth).contains($0.1) }) {
            throw PlanError("depth \(d) of call \(k) is outside 0...12")
        }
        let m = try PruningMethod(parsing: method)
        if let (s, r) = ratios.enumerated().first(where: { !($0.1.isFinite && (0...m.maximumRatio).contains(Double($0.1))) }) {
            throw PlanError("ratio \(r) of step \(s) is outside 0...\(m.maximumRatio) (the limit of \(m.name.rawValue))")
        }
    }

    /// The pruning method with its options.
    public var pruning: PruningMethod {
        (try? PruningMethod(parsing: method)) ?? PruningMethod.none
    }

    /// The prune ratio of step `s`: the plan's, or the method's default when the plan has none.
    public func ratio(step s: Int) -> Double {
        if ratios.indices.contains(s) { return Double(ratios[s]) }
        return pruning.defaultRatio
    }

    /// Checks the plan against a sampler's number of UNet calls and steps.
    public func validate(calls: Int, steps: Int) throws {
        guard depths.count == calls else {
            throw PlanError("the plan has \(depths.count) depths but the sampler makes \(calls) UNet calls")
        }
        guard ratios.isEmpty || ratios.count == steps else {
            throw PlanError("the plan has \(ratios.count) ratios but the run has \(steps) steps")
        }
    }

    /// Number of calls at each depth, deepest first, e.g. "12x10 2x40".
    public var summary: String {
        let counts = Dictionary(grouping: depths, by: { $0 }).mapValues(\.count)
        return counts.keys.sorted(by: >).map { "\($0)x\(counts[$0] ?? 0)" }.joined(separator: " ")
    }

    // MARK: compact string form

    public var description: String {
        var parts = ["d:" + Self.runLength(depths.map(String.init))]
        if !ratios.isEmpty { parts.append("r:" + Self.runLength(ratios.map { Self.format($0) })) }
        if method != "none" { parts.append("m:" + method) }
        return parts.joined(separator: ";")
    }

    static func format(_ r: Float) -> String {
        let s = String(format: "%.4f", r)
        var t = s
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return t
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
        var depths: [Int]?, ratios: [Float] = [], method = "none"
        for field in text.split(separator: ";", omittingEmptySubsequences: false) {
            let kv = field.split(separator: ":", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw PlanError("field '\(field)' is not 'key:value' (keys d, r, m)") }
            switch kv[0] {
            case "d": depths = try Self.expand(kv[1], field: "d").map { v in
                guard let d = Int(v) else { throw PlanError("depth '\(v)' is not an integer") }
                return d
            }
            case "r": ratios = try Self.expand(kv[1], field: "r").map { v in
                guard let r = Float(v) else { throw PlanError("ratio '\(v)' is not a number") }
                return r
            }
            case "m": method = kv[1]
            default: throw PlanError("unknown field '\(kv[0])' (keys d, r, m)")
            }
        }
        guard let depths else { throw PlanError("missing depths field 'd:'") }
        try self.init(depths: depths, ratios: ratios, method: method)
    }

    static func expand(_ list: String, field: String) throws -> [String] {
        var out: [String] = []
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "*").map(String.init)
            if parts.count == 1, !parts[0].isEmpty {
                out.append(parts[0])
            } else if parts.count == 2, let n = Int(parts[1]), n >= 1, n <= 100_000 {
                out += Array(repeating: parts[0], count: n)
            } else {
                throw PlanError("'\(item)' in field '\(field)' is not 'value' or 'value*count'")
            }
        }
        return out
    }

    // MARK: JSON

    enum CodingKeys: String, CodingKey { case depths, ratios, method }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(depths: try c.decode([Int].self, forKey: .depths),
                      ratios: try c.decodeIfPresent([Float].self, forKey: .ratios) ?? [],
                      method: try c.decodeIfPresent(String.self, forKey: .method) ?? "none")
    }

    /// The plan as one line of JSON.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// A plan that cannot be used, with the reason.
public struct PlanError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = "invalid acceleration plan: \(message)" }
}
