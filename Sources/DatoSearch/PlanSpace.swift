import DatoAccel
import DatoCore

/// The genome <-> plan mapping of a schedule search (docs/methods/search.md, "Search spaces").
///
/// - `depth`: one gene per UNet call 1..K-1 (call 0 is always full), an index into `depthValues`; no pruning.
/// - `ratio`: one gene per step, an index into `ratioValues`, on the fixed depths `fixedDepths`.
/// - `joint`: both, depth genes first.
public struct PlanSpace: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case depth, ratio, joint }

    public let kind: Kind
    public let calls: Int, steps: Int
    public var depthValues: [Int] = [0, 1, 12]
    public var ratioValues: [Double] = (0...7).map { Double($0) / 10 }
    /// Depths for the ratio space (default: every call full).
    public var fixedDepths: [Int]
    /// The pruning method the ratio genes drive (with its settings).
    public var method = PruningMethod(name: .dato)

    public init(kind: Kind, calls: Int, steps: Int) {
        self.kind = kind
        self.calls = calls
        self.steps = steps
        fixedDepths = Array(repeating: AccelerationPlan.fullDepth, count: calls)
    }

    var depthGenes: Int { kind == .ratio ? 0 : calls - 1 }
    var ratioGenes: Int { kind == .depth ? 0 : steps }
    public var geneCount: Int { depthGenes + ratioGenes }

    public var lowerBounds: [Double] { Array(repeating: 0, count: geneCount) }
    public var upperBounds: [Double] {
        Array(repeating: Double(depthValues.count - 1), count: depthGenes) + Array(repeating: Double(ratioValues.count - 1), count: ratioGenes)
    }

    /// The plan a genome stands for.
    public func plan(_ genome: [Double]) throws -> AccelerationPlan {
        guard genome.count == geneCount else { throw PlanError("a genome of \(genome.count) genes for a space of \(geneCount)") }
        let index = genome.map { Int($0.rounded(.toNearestOrEven)) }
        let depths = depthGenes > 0 ? [AccelerationPlan.fullDepth] + index.prefix(depthGenes).map { depthValues[$0] } : fixedDepths
        guard ratioGenes > 0 else { return try AccelerationPlan(depths: depths) }
        let ratios = index.suffix(ratioGenes).map { Float(ratioValues[$0]) }
        return try AccelerationPlan(depths: depths, ratios: ratios, pruning: method)
    }

    /// Checks the depth values and fixed depths against a UNet of `units` units
    /// (`AccelerationPlan.validate(units:)`), before any candidate is generated.
    public func validate(units: Int) throws {
        if let d = depthValues.first(where: { !AccelerationPlan.fits($0, units: units) }) {
            throw PlanError("depth value \(d): \(AccelerationPlan.unitsHint(units))")
        }
        try AccelerationPlan(depths: fixedDepths.isEmpty ? [AccelerationPlan.fullDepth] : fixedDepths).validate(units: units)
    }

    /// A genome for a plan of this space (nil if the plan uses values outside it), e.g. to place presets.
    public func genome(_ plan: AccelerationPlan) -> [Double]? {
        var g: [Double] = []
        if depthGenes > 0 {
            guard plan.depths.count == calls else { return nil }
            for d in plan.depths.dropFirst() {
                guard let i = depthValues.firstIndex(of: d) else { return nil }
                g.append(Double(i))
            }
        }
        if ratioGenes > 0 {
            guard plan.ratios.count == steps else { return nil }
            for r in plan.ratios {
                guard let i = ratioValues.firstIndex(where: { abs($0 - Double(r)) < 1e-6 }) else { return nil }
                g.append(Double(i))
            }
        }
        return g
    }

    /// The reference's ConstrainedSampling for the depth space (docs/methods/search.md): genes 0-14 / 15-34 / 35-...
    /// get at most max1 - 1 / max2 - 1 / max3 full calls (numpy's exclusive and Python's inclusive bounds, as
    /// the reference), every other gene the first or second depth value with probability 1/2. nil unless the
    /// space is `depth` with depth values [0, 1, 12].
    public func constrainedSampler(max1: Int = 1, max2: Int = 2, max3: Int = 1) -> ((inout SplitMix) -> [Double])? {
        guard kind == .depth, depthValues == [0, 1, 12] else { return nil }
        let n = depthGenes
        return { random in
            var g = (0..<n).map { _ in Double(random.next(2)) }
            let segments = [(0, min(15, n), max1, false), (15, min(35, n), max2, false), (35, n, max3, true)]
            for (lo, hi, limit, inclusive) in segments where lo < hi {
                let count = random.next(max(1, inclusive ? limit + 1 : limit))
                var positions = Array(lo..<hi)
                for k in 0..<min(count, positions.count) {
                    let j = k + random.next(positions.count - k)
                    positions.swapAt(k, j)
                    g[positions[k]] = 2
                }
            }
            return g
        }
    }
}
