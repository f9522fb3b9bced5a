import Foundation

/// A plan argument read and checked, before it is fitted to a run's number of UNet calls and steps.
///
/// Grammar (spaces around the parts are ignored):
///
///     plan     = json | depths | pruning | depths "+" pruning | path
///     depths   = "none" | "full" | "dato-reference" | "deepcache:" N ("," option)* | compact | json | path
///     pruning  = method-name [":" ratio] ("," option)*          method-name = tome | dato | atedm | at-edm
///     compact  = "d:" list [";r:" list] [";m:" method]          (`CompactPlan.swift`)
///     json     = "{" ... "}"                                     (`AccelerationPlan`'s JSON form)
///
/// A `+` joins depths and pruning only where a method name follows it (`deepcache:3+dato:0.4`); every other
/// `+` belongs to the part it is in, as in `levels=0+1`, so every plan string dato writes reads back.
/// Presets, compact plans and pruning forms are recognised before paths; a path that looks like one can be
/// written as `./name`. A plan text has at most `AccelerationPlan.maximumTextBytes` bytes.
public struct PlanSpec: Sendable, Equatable {
    /// Where the depths come from.
    enum Depths: Sendable, Equatable {
        case full, datoReference
        case deepCache(DeepCacheSchedule)
        case explicit(AccelerationPlan)
    }

    /// Pruning given by name: the method with its options and its ratio for every step (nil: the default).
    struct Pruning: Sendable, Equatable {
        let method: PruningMethod
        let ratio: Double?
    }

    /// The plan argument as given.
    public let text: String
    let depths: Depths
    let pruning: Pruning?

    /// The pruning method names that may follow a `+` or start a pruning-only plan.
    static let pruningNames: Set<String> = ["tome", "dato", "atedm", "at-edm"]

    /// Reads a plan argument. With `files`, an argument that is no preset, compact plan or JSON may name a
    /// JSON plan file; without, nothing outside the text is looked at.
    public init(parsing text: String, files: Bool = true) throws {
        self.text = text
        do {
            (depths, pruning) = try Self.read(text, files: files)
        } catch let error as PlanError {
            throw error.naming(plan: text)
        }
    }

    static func read(_ spec: String, files: Bool) throws -> (Depths, Pruning?) {
        guard spec.utf8.count <= AccelerationPlan.maximumTextBytes else {
            throw PlanError("the plan is \(spec.utf8.count) bytes long; at most \(AccelerationPlan.maximumTextBytes)")
        }
        let text = Substring(spec.trimmingCharacters(in: .whitespacesAndNewlines))
        guard !text.isEmpty else { throw PlanError("the plan is empty") }
        if text.hasPrefix("{") { return (.explicit(try decodeJSON(Data(text.utf8), source: "the JSON plan")), nil) }
        if startsWithPruningName(text) { return (.full, try pruning(text)) }
        if !isPreset(text), files, PlanFile.exists(text) { return (.explicit(try PlanFile.load(String(text))), nil) }
        guard let plus = joinIndex(text) else { return (try depths(text, files: files), nil) }
        let left = text[..<plus].trimmingCharacters(in: .whitespaces)
        let base = try depths(Substring(left), files: files)
        if case let .explicit(plan) = base, plan.pruning.name != .none || !plan.ratios.isEmpty {
            throw PlanError("'\(PlanError.excerpt(left))' already has pruning (m: or r:); add pruning once")
        }
        return (base, try pruning(text[text.index(after: plus)...]))
    }

    /// Depths alone: a preset, a compact plan, JSON, or (with `files`) a JSON file.
    static func depths(_ text: Substring, files: Bool) throws -> Depths {
        switch text {
        case "none", "full": return .full
        case "dato-reference": return .datoReference
        case _ where text.hasPrefix("deepcache:"): return .deepCache(try DeepCacheSchedule(parsing: text.dropFirst("deepcache:".count)))
        case _ where text.hasPrefix("d:"): return .explicit(try AccelerationPlan(compact: String(text)))
        case _ where text.hasPrefix("{"): return .explicit(try decodeJSON(Data(text.utf8), source: "the JSON plan"))
        case _ where files && PlanFile.exists(text): return .explicit(try PlanFile.load(String(text)))
        default:
            throw PlanError("'\(PlanError.excerpt(text))' is not a preset (none, deepcache:N[,branch=B|,nonuniform,center=C,power=P], dato-reference, tome:R, dato:R, atedm:R, or depths+pruning such as dato-reference+dato:0.4), a compact plan (d:...), JSON, or a plan file")
        }
    }

    static func pruning(_ text: Substring) throws -> Pruning {
        let spec = text.trimmingCharacters(in: .whitespaces)
        guard startsWithPruningName(Substring(spec)) else {
            throw PlanError("'\(PlanError.excerpt(spec))' is not a pruning method (tome:R, dato:R, atedm:R, each optionally followed by ,options)")
        }
        let (method, ratio) = try PlanPresets.pruningSpec(spec)
        return Pruning(method: method, ratio: ratio)
    }

    /// Whether `text` is written as a preset or compact plan (and so is never taken for a path).
    static func isPreset(_ text: Substring) -> Bool {
        ["none", "full", "dato-reference"].contains(text) || text.hasPrefix("deepcache:") || text.hasPrefix("d:")
    }

    /// Whether `text` starts with a pruning method name followed by ':', ',' or its end. Looks at no more
    /// than the first 7 characters, so scanning a long argument for '+' stays linear.
    static func startsWithPruningName(_ text: Substring) -> Bool {
        let name = text.prefix(7).prefix { $0 != ":" && $0 != "," }
        guard name.endIndex == text.endIndex || text[name.endIndex] == ":" || text[name.endIndex] == "," else { return false }
        return pruningNames.contains(name.trimmingCharacters(in: .whitespaces).lowercased())
    }

    /// The '+' joining depths and pruning: the first one followed (after spaces) by a pruning method name.
    static func joinIndex(_ text: Substring) -> Substring.Index? {
        var from = text.startIndex
        while let plus = text[from...].firstIndex(of: "+") {
            from = text.index(after: plus)
            if startsWithPruningName(text[from...].drop(while: { $0 == " " })) { return plus }
        }
        return nil
    }

    // MARK: fitting to a run

    /// The plan for a run of `calls` UNet calls and `steps` steps on a UNet of `units` units
    /// (`UNet2DConditionModel.unitCount`; the default is SD 1.x/2.x's 12). A partial depth the model does not
    /// have (from `units` to 11) is refused (`AccelerationPlan.validate(units:)`).
    public func plan(calls: Int, steps: Int, units: Int = AccelerationPlan.fullDepth) throws -> AccelerationPlan {
        do {
            try Self.checkRun(calls: calls, steps: steps)
            var plan: AccelerationPlan
            switch depths {
            case .full: plan = .full(calls: calls)
            case .datoReference:
                guard calls == 51 else {
                    throw PlanError("'dato-reference' is defined for PLMS with 50 steps (51 UNet calls); this run makes \(calls)")
                }
                plan = try AccelerationPlan(depths: [12] + PlanPresets.datoReference.map { $0 == 11 ? 12 : $0 })
            case let .deepCache(schedule):
                try schedule.check(units: units)
                plan = try AccelerationPlan(depths: try schedule.depths(calls: calls, steps: steps))
            case let .explicit(p): plan = p
            }
            if let pruning {
                let ratio = Float(pruning.ratio ?? pruning.method.defaultRatio)
                plan = try AccelerationPlan(depths: plan.depths, ratios: Array(repeating: ratio, count: steps), pruning: pruning.method)
            }
            try plan.validate(calls: calls, steps: steps)
            try plan.validate(units: units)
            return plan
        } catch let error as PlanError {
            throw error.naming(plan: text)
        }
    }

    /// Checks what can be checked knowing only the run's steps (not its sampler's number of UNet calls):
    /// everything except the number of depths and `dato-reference`'s 51 calls.
    public func check(steps: Int) throws {
        do {
            try Self.checkRun(calls: 1, steps: steps)
            switch depths {
            case let .deepCache(schedule): _ = try schedule.fullCalls(steps: steps)
            case let .explicit(plan) where pruning == nil && !plan.ratios.isEmpty && plan.ratios.count != steps:
                throw PlanError("the plan has \(plan.ratios.count) ratios but the run has \(steps) steps")
            default: break
            }
        } catch let error as PlanError {
            throw error.naming(plan: text)
        }
    }

    static func checkRun(calls: Int, steps: Int) throws {
        let range = 1...AccelerationPlan.maximumLength
        guard range.contains(calls), range.contains(steps) else {
            throw PlanError("a run of \(calls) UNet calls and \(steps) steps is outside \(range)")
        }
    }

    // MARK: JSON

    /// A plan from JSON bytes; `source` names them in errors.
    static func decodeJSON(_ data: Data, source: String) throws -> AccelerationPlan {
        guard data.count <= AccelerationPlan.maximumTextBytes else {
            throw PlanError("\(source) is \(data.count) bytes; at most \(AccelerationPlan.maximumTextBytes)")
        }
        do {
            return try JSONDecoder().decode(AccelerationPlan.self, from: data)
        } catch let e as PlanError {
            throw PlanError("\(source): \(e.message)")
        } catch {
            throw PlanError("\(source) is not a plan JSON object with 'depths' (and optional 'ratios', 'method'): \(describe(error))")
        }
    }

    /// A decoding error in one line: where and what.
    static func describe(_ error: Error) -> String {
        guard let e = error as? DecodingError else { return PlanError.excerpt("\(error)", limit: 200) }
        let context: DecodingError.Context
        switch e {
        case let .typeMismatch(_, c), let .valueNotFound(_, c), let .keyNotFound(_, c), let .dataCorrupted(c): context = c
        @unknown default: return PlanError.excerpt("\(e)", limit: 200)
        }
        let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
        return (path.isEmpty ? "" : "at \(PlanError.excerpt(path, limit: 60)): ") + PlanError.excerpt(context.debugDescription, limit: 200)
    }
}

extension AccelerationPlan {
    /// Reads a plan argument (a preset, pruning, depths+pruning, a compact plan or JSON; see `PlanSpec`) and
    /// fits it to a run of `calls` UNet calls and `steps` steps. Looks at nothing but `text` (no plan files:
    /// `PlanPresets.resolve` reads those). Every malformed text throws a `PlanError` naming the plan and the
    /// bad part.
    public static func parse(_ text: String, calls: Int, steps: Int, units: Int = fullDepth) throws -> AccelerationPlan {
        try PlanSpec(parsing: text, files: false).plan(calls: calls, steps: steps, units: units)
    }
}
