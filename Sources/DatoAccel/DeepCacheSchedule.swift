import Foundation

/// DeepCache's pipeline schedule as a plan preset: `deepcache:N`, `deepcache:N,branch=B`,
/// `deepcache:N,nonuniform[,center=C][,power=P]` (docs/methods/caching.md, "Presets"). Full calls at
/// k in range(0, steps, N), or the quad-centre set; all other calls at depth B (default 2, the paper's SD
/// setting cache_layer_id = 0, cache_block_id = 0).
struct DeepCacheSchedule: Sendable, Equatable {
    /// N: a full call every N steps.
    var interval: Int
    /// The depth of the other calls.
    var branch = 2
    var nonuniform = false
    /// The quad centre and power of the non-uniform schedule (nil: DeepCache's defaults).
    var center: Double?
    var power: Double?

    static let defaultCenter = 15.0, defaultPower = 1.4

    /// The centre used when none is given: DeepCache's 15 wherever it lies inside the run, and for shorter runs
    /// (where 15 is past the last step and DeepCache's own formula has no solution) the same place relative to
    /// the run as 15 of the 50 steps it was chosen for, so `deepcache:N,nonuniform` works at any step count.
    static func defaultCenter(steps: Int) -> Double {
        defaultCenter < Double(steps) ? defaultCenter : defaultCenter * Double(steps) / 50
    }
    /// Powers above this only make the search for a schedule longer (it steps the power down by 0.02).
    static let maximumPower = 10.0

    /// Reads the text after `deepcache:`.
    init(parsing args: Substring) throws {
        let parts = args.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let n = Int(parts[0]), (1...AccelerationPlan.maximumLength).contains(n) else {
            throw PlanError("deepcache needs an interval N in 1...\(AccelerationPlan.maximumLength), as in deepcache:3; got '\(PlanError.excerpt(parts[0]))'")
        }
        interval = n
        var seen: Set<String> = []
        for p in parts.dropFirst() {
            guard !p.isEmpty else { throw PlanError("empty deepcache option (two commas in a row or a trailing comma)") }
            let kv = p.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map { $0.lowercased() }
            guard !kv[0].isEmpty else { throw PlanError("deepcache option '\(PlanError.excerpt(p))' has no name") }
            guard seen.insert(kv[0]).inserted else { throw PlanError("deepcache option '\(PlanError.excerpt(kv[0]))' is given twice") }
            try set(kv[0], kv.count == 2 ? kv[1] : nil, item: p)
        }
        if !nonuniform && (center != nil || power != nil) {
            throw PlanError("deepcache options center and power apply only with nonuniform")
        }
    }

    private mutating func set(_ key: String, _ value: String?, item: String) throws {
        switch (key, value) {
        case ("nonuniform", nil): nonuniform = true
        case ("branch", let v?):
            guard let b = Int(v), (1...11).contains(b) else { throw PlanError("deepcache branch must be an integer in 1...11, got '\(PlanError.excerpt(v))'") }
            branch = b
        case ("center", let v?):
            guard let c = Double(v), c.isFinite, c >= 0 else { throw PlanError("deepcache center must be a finite number >= 0, got '\(PlanError.excerpt(v))'") }
            center = c
        case ("power", let v?):
            guard let p = Double(v), p > 1, p <= Self.maximumPower else {
                throw PlanError("deepcache power must be a number in (1, \(Int(Self.maximumPower))], got '\(PlanError.excerpt(v))'")
            }
            power = p
        case ("nonuniform", _?): throw PlanError("deepcache option nonuniform takes no value, got '\(PlanError.excerpt(item))'")
        case ("branch", nil), ("center", nil), ("power", nil): throw PlanError("deepcache option \(key) needs a value (\(key)=...)")
        default: throw PlanError("unknown deepcache option '\(PlanError.excerpt(item))' (branch=B, nonuniform, center=C, power=P)")
        }
    }

    /// The calls that run in full, for a run of `steps` steps.
    func fullCalls(steps: Int) throws -> Set<Int> {
        guard nonuniform else { return Set(stride(from: 0, to: steps, by: interval)) }
        let c = center ?? Self.defaultCenter(steps: steps)
        guard c < Double(steps) else {
            throw PlanError("deepcache nonuniform: center=\(Self.format(c)) must be below the run's \(steps) steps; give center=C with C < \(steps)")
        }
        let count = steps / interval + (steps % interval == 0 ? 0 : 1)
        return Set(try PlanPresets.quadCenter(total: steps, count: count, center: c, power: power ?? Self.defaultPower).indices)
    }

    /// Checks the branch depth against a UNet of `units` units: the cached calls recompute `branch` of them.
    func check(units: Int) throws {
        guard units < AccelerationPlan.fullDepth, branch >= units else { return }
        let use = units > 1 ? "use branch=1...\(units - 1)" : "it has no partial calls"
        throw PlanError("deepcache branch=\(branch): this model's UNet has \(units) units; \(use)")
    }

    /// The depth of each of `calls` UNet calls.
    func depths(calls: Int, steps: Int) throws -> [Int] {
        let full = try fullCalls(steps: steps)
        return (0..<calls).map { full.contains($0) ? AccelerationPlan.fullDepth : branch }
    }

    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
    }
}

extension PlanPresets {
    /// DeepCache's `sample_from_quad_center` (docs/methods/caching.md), with numpy's complex principal powers:
    /// `count` indices in 0..<total clustered around `center`. The power is stepped down by 0.02 from `power`
    /// until the schedule has `count` distinct indices; the power used is returned too.
    public static func quadCenter(total: Int, count k: Int, center c: Double, power p0: Double) throws -> (indices: [Int], power: Double) {
        guard (1...AccelerationPlan.maximumLength).contains(total), (1...total).contains(k) else {
            throw PlanError("a non-uniform schedule needs 1...\(AccelerationPlan.maximumLength) steps and 1...steps full calls; got \(total) and \(k)")
        }
        guard c.isFinite, c >= 0, c < Double(total) else { throw PlanError("the quad center \(c) must be in 0..<\(total) (the steps)") }
        guard p0.isFinite, p0 > 1, p0 <= DeepCacheSchedule.maximumPower else {
            throw PlanError("the quad power \(p0) must be in (1, \(DeepCacheSchedule.maximumPower)]")
        }
        var p = p0
        while p > 1 {
            let values = try quadValues(total: total, count: k, center: c, power: p)
            let distinct = Array(Set(values)).sorted()
            let inner = distinct.count > 2 ? Array(distinct[1..<(distinct.count - 1)]) : []
            let indices = [0] + inner.map { $0 + Int(c) }
            if indices.count == k { return (indices, p) }
            p -= 0.02
        }
        throw PlanError("cannot find a non-uniform schedule for \(total) steps, \(k) full calls and center \(c)")
    }

    /// The k + 1 points of the quad-centre grid for one power, truncated toward zero.
    static func quadValues(total: Int, count k: Int, center c: Double, power p: Double) throws -> [Int] {
        // a = (-c)^(1/p) as a principal complex power; b = (T - c)^(1/p).
        let mag = Foundation.pow(c, 1 / p)
        let a = (re: c == 0 ? 0 : mag * Foundation.cos(Double.pi / p), im: c == 0 ? 0 : mag * Foundation.sin(Double.pi / p))
        let b = Foundation.pow(Double(total) - c, 1 / p)
        var values: [Int] = []
        for j in 0...k {
            var re = a.re + Double(j) * (b - a.re) / Double(k), im = a.im + Double(j) * (0 - a.im) / Double(k)
            if j == k { re = b; im = 0 }
            // exp(p * Log(x)) for the principal logarithm.
            let r = (re * re + im * im).squareRoot()
            let value: Double
            if r == 0 { value = 0 } else {
                let theta = Foundation.atan2(im, re)
                value = Foundation.exp(p * Foundation.log(r)) * Foundation.cos(p * theta)
            }
            // |value| <= max(c, T - c) in exact arithmetic; anything else is a numerical failure, not an index.
            guard value.isFinite, abs(value) <= Double(2 * total) else {
                throw PlanError("the non-uniform schedule for \(total) steps, center \(c) and power \(p) is not finite")
            }
            values.append(Int(value.rounded(.towardZero)))
        }
        return values
    }
}
