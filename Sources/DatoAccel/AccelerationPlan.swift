import Foundation

/// What to accelerate in one denoising run: a cache depth per UNet call and a prune ratio per step
/// (docs/methods/caching.md describes depths, calls and steps; docs/usage.md the plan grammar).
///
/// Compact string form: `d:12,2*2,12,2*2;r:0.4*5;m:none`: depths (run-length `value*count`), optional
/// per-step ratios, optional pruning method (`CompactPlan.swift`). JSON form:
/// `{"depths": [...], "ratios": [...], "method": "none"}`. Every plan's `description` parses back to the
/// same plan, with `AccelerationPlan(compact:)` and with `AccelerationPlan.parse(_:calls:steps:)`.
public struct AccelerationPlan: Codable, Equatable, Sendable, CustomStringConvertible {
    /// Depth per UNet call: 12 full, 1...11 partial (recompute D_0..D_{d-1} and U_{d-1}..U_0), 0 repeat. 12
    /// means full on every model; a partial depth must be below the model's unit count (`validate(units:)`).
    public var depths: [Int]
    /// Prune ratio per denoising step (empty: no pruning).
    public var ratios: [Float]
    /// The token-pruning method with its settings, parsed once when the plan is made.
    public let pruning: PruningMethod

    /// The pruning method's text form (`PruningMethod.description`), as the plan's `m:` field and JSON write
    /// it, e.g. "none", "dato", "atedm,temporal".
    public var method: String { pruning.description }

    /// The depth that means a full call (SD 1.x/2.x UNets have 12 units; on smaller UNets it still means full).
    public static let fullDepth = 12
    /// The most depths or ratios a plan may hold: one per UNet call or step. Runs have at most 1000 steps
    /// and one or two UNet calls per step, so this leaves ample room while bounding what a plan string can
    /// make dato allocate.
    public static let maximumLength = 10_000
    /// The longest plan text (argument, JSON or plan file) read, in bytes. 10,000 entries of a plan written
    /// without run-lengths take about 100 KB.
    public static let maximumTextBytes = 1 << 20

    /// A plan from its lists and a pruning method; the values are checked.
    public init(depths: [Int], ratios: [Float] = [], pruning: PruningMethod) throws {
        self.depths = depths
        self.ratios = ratios.map { $0 == 0 ? 0 : $0 }   // -0 and 0 are the same ratio: written as 0
        self.pruning = pruning
        try validateValues()
    }

    /// A plan from its lists and the pruning method's text form (`PruningMethod(parsing:)`).
    public init(depths: [Int], ratios: [Float] = [], method: String = "none") throws {
        try self.init(depths: depths, ratios: ratios, pruning: try PruningMethod(parsing: method))
    }

    /// A plan of full calls only (the unaccelerated run).
    public static func full(calls: Int) -> AccelerationPlan {
        AccelerationPlan(unchecked: Array(repeating: fullDepth, count: max(calls, 0)))
    }

    init(unchecked depths: [Int]) {
        self.depths = depths
        ratios = []
        pruning = .none
    }

    func validateValues() throws {
        guard !depths.isEmpty else { throw PlanError("the plan has no depths") }
        guard depths.count <= Self.maximumLength, ratios.count <= Self.maximumLength else {
            throw PlanError("the plan has \(depths.count) depths and \(ratios.count) ratios; at most \(Self.maximumLength) each (one per UNet call or step)")
        }
        guard depths[0] == Self.fullDepth else { throw PlanError("depth of call 0 must be 12 (the first call of a run is full), got \(depths[0])") }
        if let (k, d) = depths.enumerated().first(where: { !(0...Self.fullDepth).contains($0.1) }) {
            throw PlanError("depth \(d) of call \(k) is outside 0...12")
        }
        let m = pruning
        if let (s, r) = ratios.enumerated().first(where: { !($0.1.isFinite && (0...m.maximumRatio).contains(Double($0.1))) }) {
            throw PlanError("ratio \(r) of step \(s) is outside 0...\(m.maximumRatio) (the limit of \(m.name.rawValue))")
        }
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

    /// Checks the plan's depths against a UNet of `units` units (`UNet2DConditionModel.unitCount`): a partial
    /// call recomputes 1...units-1 units, so a depth from `units` to 11 would silently run in full; it is
    /// refused, naming the call. 12 (`fullDepth`) always means a full call and 0 a repeat.
    public func validate(units: Int) throws {
        guard let (k, d) = depths.enumerated().first(where: { !Self.fits($0.1, units: units) }) else { return }
        throw PlanError("depth \(d) of call \(k): \(Self.unitsHint(units))")
    }

    /// Whether depth `d` (0...12) means what it says on a UNet of `units` units: a repeat, a full call, or a
    /// partial call of fewer units than the model has.
    public static func fits(_ d: Int, units: Int) -> Bool {
        d == 0 || d >= fullDepth || d < units
    }

    /// What depths a UNet of `units` units takes, for an error message.
    public static func unitsHint(_ units: Int) -> String {
        let use = units > 1 ? "use 1...\(units - 1) for partial calls or \(fullDepth) for full" : "use \(fullDepth) for full calls or 0 for repeats"
        return "this model's UNet has \(units) units; \(use)"
    }

    /// Checks the plan against a run of `calls` UNet calls and `steps` steps on a UNet of `units` units; an
    /// error names the plan.
    public func validate(calls: Int, steps: Int, units: Int) throws {
        do {
            try validate(calls: calls, steps: steps)
            try validate(units: units)
        } catch let error as PlanError {
            throw error.naming(plan: description)
        }
    }

    /// Number of calls at each depth, deepest first, e.g. "12x10 2x40".
    public var summary: String {
        let counts = Dictionary(grouping: depths, by: { $0 }).mapValues(\.count)
        return counts.keys.sorted(by: >).map { "\($0)x\(counts[$0] ?? 0)" }.joined(separator: " ")
    }

    // MARK: JSON

    enum CodingKeys: String, CodingKey, CaseIterable { case depths, ratios, method }

    /// Any key of a JSON object, to name the ones a plan does not have.
    struct AnyKey: CodingKey {
        let stringValue: String
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        let keys = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        if let unknown = keys.sorted().first(where: { CodingKeys(rawValue: $0) == nil }) {
            throw PlanError("unknown key '\(PlanError.excerpt(unknown))' (keys depths, ratios, method)")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(depths: try c.decode([Int].self, forKey: .depths),
                      ratios: try c.decodeIfPresent([Float].self, forKey: .ratios) ?? [],
                      method: try c.decodeIfPresent(String.self, forKey: .method) ?? "none")
    }

    /// Writes `depths`, `ratios` (also when empty) and `method` (the pruning method's text form).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(depths, forKey: .depths)
        try c.encode(ratios, forKey: .ratios)
        try c.encode(method, forKey: .method)
    }

    /// The plan as one line of JSON.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
