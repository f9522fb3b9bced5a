import Foundation

/// Named plans and how they expand for a given sampler (shared/spec/caching.md sections 4-5, dato.md 9).
public enum PlanPresets {
    /// The reference's fixed depth vector for PLMS-50 calls 1...50 (dato.md section 9), 11 meaning full.
    static let datoReference: [Int] = [0, 1, 1, 1, 1, 1, 11, 1, 1, 1, 1, 1, 1, 1, 0, 0, 11, 1, 1, 1, 0, 11, 1, 0, 1, 1, 1, 1,
                                       1, 11, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 11, 1, 1, 1, 1, 1, 1, 1, 1, 1]

    /// Resolves a plan argument: a preset name, a compact string, a JSON object, or a path to a JSON file.
    /// `calls` and `steps` are the sampler's UNet call and step counts.
    /// Pruning joins with `+`: `dato-reference+dato:0.4`, `deepcache:3+tome:0.5`, or alone `atedm:0.6,dsap=0.3`
    /// (a ratio for every step, then the method's options).
    public static func resolve(_ spec: String, calls: Int, steps: Int) throws -> AccelerationPlan {
        let text = spec.trimmingCharacters(in: .whitespacesAndNewlines)
        if !text.hasPrefix("{") && !FileManager.default.fileExists(atPath: text) {
            let parts = text.split(separator: "+", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 || isPruning(text) {
                let pruning = parts.count == 2 ? parts[1] : text
                var plan = parts.count == 2 ? try resolve(parts[0], calls: calls, steps: steps) : .full(calls: calls)
                guard plan.method == "none" else { throw PlanError("'\(parts[0])' already names a pruning method; add pruning once") }
                guard isPruning(pruning) else {
                    throw PlanError("'\(pruning)' is not a pruning method (tome:R, dato:R, atedm:R, each optionally followed by ,options)")
                }
                let (method, ratio) = try pruningSpec(pruning)
                plan = try AccelerationPlan(depths: plan.depths, ratios: Array(repeating: Float(ratio ?? method.defaultRatio), count: steps),
                                            method: method.description)
                try plan.validate(calls: calls, steps: steps)
                return plan
            }
        }
        let plan: AccelerationPlan
        if text == "none" || text == "full" {
            plan = .full(calls: calls)
        } else if text == "dato-reference" {
            guard calls == 51 else {
                throw PlanError("'dato-reference' is defined for PLMS with 50 steps (51 UNet calls); this run makes \(calls)")
            }
            plan = try AccelerationPlan(depths: [12] + datoReference.map { $0 == 11 ? 12 : $0 })
        } else if text.hasPrefix("deepcache:") {
            plan = try deepCache(String(text.dropFirst("deepcache:".count)), calls: calls, steps: steps)
        } else if text.hasPrefix("{") {
            plan = try decodeJSON(Data(text.utf8), source: "plan")
        } else if text.hasPrefix("d:") {
            plan = try AccelerationPlan(compact: text)
        } else if FileManager.default.fileExists(atPath: text) {
            guard let data = FileManager.default.contents(atPath: text) else { throw PlanError("cannot read plan file '\(text)'") }
            plan = try decodeJSON(data, source: text)
        } else {
            throw PlanError("'\(spec)' is not a preset (none, deepcache:N[,branch=B|,nonuniform,center=C,power=P], dato-reference, tome:R, dato:R, atedm:R, or depths+pruning such as dato-reference+dato:0.4), a compact plan (d:...), JSON, or a plan file")
        }
        try plan.validate(calls: calls, steps: steps)
        return plan
    }

    static func isPruning(_ text: String) -> Bool {
        let name = text.prefix { $0 != ":" && $0 != "," }.lowercased()
        return ["tome", "dato", "atedm", "at-edm"].contains(name)
    }

    /// `name[:ratio][,options]` -> the method and the ratio (nil: the method's default).
    public static func pruningSpec(_ text: String) throws -> (PruningMethod, Double?) {
        let name = String(text.prefix { $0 != ":" && $0 != "," })
        var rest = text.dropFirst(name.count)
        var ratio: Double?
        if rest.hasPrefix(":") {
            let value = rest.dropFirst().prefix { $0 != "," }
            guard let r = Double(value), r >= 0, r <= 1 else { throw PlanError("\(name) ratio '\(value)' must be a number in 0...1") }
            ratio = r
            rest = rest.dropFirst(1 + value.count)
        }
        let method = try PruningMethod(parsing: name + rest)
        if let ratio, ratio > method.maximumRatio {
            throw PlanError("\(name) ratio \(ratio) is above its limit \(method.maximumRatio)")
        }
        return (method, ratio)
    }

    static func decodeJSON(_ data: Data, source: String) throws -> AccelerationPlan {
        do {
            return try JSONDecoder().decode(AccelerationPlan.self, from: data)
        } catch let e as PlanError {
            throw PlanError("\(source): \(e.description.replacingOccurrences(of: "invalid acceleration plan: ", with: ""))")
        } catch {
            throw PlanError("\(source) is not a plan JSON object with 'depths' (and optional 'ratios', 'method'): \(error)")
        }
    }

    /// `N`, `N,branch=B`, `N,nonuniform,center=C,power=P`: DeepCache's pipeline schedule. Full calls at
    /// k in range(0, steps, N) (or the quad-centre set); all other calls at depth B (default 2, the paper's
    /// SD setting cache_layer_id = 0, cache_block_id = 0).
    static func deepCache(_ args: String, calls: Int, steps: Int) throws -> AccelerationPlan {
        let parts = args.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = parts.first, let n = Int(first), n >= 1 else {
            throw PlanError("deepcache needs an interval N >= 1, as in deepcache:3")
        }
        var branch = 2, nonuniform = false, center = 15.0, power = 1.4
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
            switch (kv[0], kv.count == 2 ? kv[1] : nil) {
            case ("nonuniform", nil): nonuniform = true
            case ("branch", let v?):
                guard let b = Int(v), (1...11).contains(b) else { throw PlanError("branch must be in 1...11, got '\(v)'") }
                branch = b
            case ("center", let v?):
                guard let c = Double(v), c >= 0 else { throw PlanError("center must be a number >= 0, got '\(v)'") }
                center = c
            case ("power", let v?):
                guard let pw = Double(v), pw > 1 else { throw PlanError("power must be a number > 1, got '\(v)'") }
                power = pw
            default: throw PlanError("unknown deepcache option '\(p)' (branch=B, nonuniform, center=C, power=P)")
            }
        }
        let full: Set<Int> = nonuniform
            ? Set(try quadCenter(total: steps, count: (steps + n - 1) / n, center: center, power: power).indices)
            : Set(stride(from: 0, to: steps, by: n))
        return try AccelerationPlan(depths: (0..<calls).map { full.contains($0) ? 12 : branch })
    }

    /// DeepCache's `sample_from_quad_center` (caching.md section 5), with numpy's complex principal powers.
    public static func quadCenter(total: Int, count k: Int, center c: Double, power p0: Double) throws -> (indices: [Int], power: Double) {
        var p = p0
        while p > 1 {
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
                values.append(Int(value.rounded(.towardZero)))
            }
            let distinct = Array(Set(values)).sorted()
            let inner = distinct.count > 2 ? Array(distinct[1..<(distinct.count - 1)]) : []
            let indices = [0] + inner.map { $0 + Int(c) }
            if indices.count == k { return (indices, p) }
            p -= 0.02
        }
        throw PlanError("cannot find a non-uniform schedule for \(total) steps, \(k) full calls and center \(c)")
    }
}
