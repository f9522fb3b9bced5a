import Foundation

/// Named plans and how they expand for a given sampler (docs/methods/caching.md, "Presets").
public enum PlanPresets {
    /// The reference's fixed depth vector for PLMS-50 calls 1...50 (docs/methods/caching.md), 11 meaning full.
    static let datoReference: [Int] = [0, 1, 1, 1, 1, 1, 11, 1, 1, 1, 1, 1, 1, 1, 0, 0, 11, 1, 1, 1, 0, 11, 1, 0, 1, 1, 1, 1,
                                       1, 11, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 11, 1, 1, 1, 1, 1, 1, 1, 1, 1]

    /// Resolves a plan argument: a preset name, a compact string, a JSON object, or a path to a JSON file
    /// (`PlanSpec` has the grammar). `calls` and `steps` are the sampler's UNet call and step counts.
    /// Pruning joins with `+`: `dato-reference+dato:0.4`, `deepcache:3+tome:0.5`, or alone `atedm:0.6,dsap=0.3`
    /// (a ratio for every step, then the method's options). `units` is the UNet's unit count
    /// (`UNet2DConditionModel.unitCount`): partial depths the model does not have are refused.
    public static func resolve(_ spec: String, calls: Int, steps: Int, units: Int = AccelerationPlan.fullDepth) throws -> AccelerationPlan {
        try PlanSpec(parsing: spec).plan(calls: calls, steps: steps, units: units)
    }

    /// Checks a plan argument for a run of `steps` steps before the model (and so the sampler's number of
    /// UNet calls) is known: everything `resolve` checks except the number of depths.
    public static func check(_ spec: String, steps: Int) throws {
        try PlanSpec(parsing: spec).check(steps: steps)
    }

    /// `name[:ratio][,options]` -> the method and the ratio (nil: the method's default).
    public static func pruningSpec(_ text: String) throws -> (PruningMethod, Double?) {
        let name = String(text.prefix { $0 != ":" && $0 != "," })
        var rest = text.dropFirst(name.count)
        var ratio: Double?
        if rest.hasPrefix(":") {
            let value = rest.dropFirst().prefix { $0 != "," }
            guard let r = Double(value.trimmingCharacters(in: .whitespaces)), r >= 0, r < 1 else {
                throw PlanError("\(PlanError.excerpt(name)) ratio '\(PlanError.excerpt(value))' must be a number in [0, 1)")
            }
            ratio = r
            rest = rest.dropFirst(1 + value.count)
        }
        let method = try PruningMethod(parsing: name + rest)
        if let ratio, ratio > method.maximumRatio {
            throw PlanError("\(method.name.rawValue) ratio \(ratio) is above its limit \(method.maximumRatio)")
        }
        return (method, ratio)
    }
}
