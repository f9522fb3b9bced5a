import Foundation
import DatoCore

/// A token-pruning method with its options, as a plan's `m:` field writes it: `name[,option]...`, where an
/// option is `key=value` or a flag. Names: none, tome, dato, atedm (alias at-edm).
///
/// - tome: `deterministic` (top-left destinations), `cross`, `mlp`, `downsample=N`
/// - dato: `gamma=G`, `alpha=A`, `levels=0+1`, `cross`, `ffn`, `noalign`, `raw` (unnormalised D),
///   `randomsign`, `reference` (the release's apply_patch behaviour, docs/methods/dato.md)
/// - atedm: `levels=0+1`, `stages=down+mid+up`, `iterations=T`, `tolerance=E`, `gwpr=reverse|received|given`, `damping=D`,
///   `self=0|1`, `normalize=rows|columns`, `cfgscores=mean|cond`, `recovery=attention|similarity`,
///   `features=input|attn1`, `copy=state|update` (`copyupdate` = `copy=update`), `mask=attn1|ffn`, `temporal`,
///   `refresh=N`, `dsap=TAU`, `protect=0|1`, `early=F`, `share=none|mask|sources`
///   (`sharedmask` = `share=mask`)
public struct PruningMethod: Sendable, Equatable, CustomStringConvertible {
    public enum Name: String, Sendable { case none, tome, dato, atedm }

    /// Each method's settings, read from its options once when the method is parsed.
    public enum Settings: Sendable, Equatable {
        case none
        case tome(ToMe.Settings)
        case dato(DaTo.Settings)
        case atedm(ATEDM.Settings)
    }

    public let name: Name
    /// The options as given, lowercased and trimmed: the method's text form (`description`) writes them back.
    public let options: [String]
    /// The settings the options stand for (random seeds are set per run by `makePolicy(seed:)`).
    public let settings: Settings

    /// Parses `name[,option]...` (case-insensitive; spaces around the parts ignored) and checks the options.
    public init(parsing text: String) throws {
        guard text.utf8.count <= 4096 else { throw PlanError("the pruning method is \(text.utf8.count) bytes long; at most 4096") }
        // Swift's Double("1\0;x") reads 1, so a control character could ride along in an option that then no
        // longer reads back from the plan's text (found by fuzzing).
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw PlanError("the pruning method '\(PlanError.excerpt(text))' holds a control character")
        }
        var parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let head = parts.removeFirst()
        guard let name = Name(rawValue: head == "at-edm" ? "atedm" : head) else {
            throw PlanError("unknown pruning method '\(PlanError.excerpt(head))' (none, tome, dato, atedm)")
        }
        self.name = name
        options = parts
        settings = try Self.settings(name, parts)
    }

    /// No pruning.
    public static let none = PruningMethod(name: .none)

    /// A method without options (its default settings).
    public init(name: Name) {
        self.name = name
        options = []
        switch name {
        case .none: settings = .none
        case .tome: settings = .tome(ToMe.Settings())
        case .dato: settings = .dato(DaTo.Settings())
        case .atedm: settings = .atedm(ATEDM.Settings())
        }
    }

    /// The canonical text of the method: `name[,option]...`, which `init(parsing:)` reads back as the same method.
    public var description: String { ([name.rawValue] + options).joined(separator: ",") }

    /// The ratio used when a plan names the method but gives no per-step ratios.
    public var defaultRatio: Double {
        switch name { case .none: 0; case .tome: 0.5; case .dato: 0.4; case .atedm: 0.5 }
    }

    /// The largest ratio the method accepts (one base / destination per 2x2 window for DaTo and ToMe).
    public var maximumRatio: Double { name == .tome || name == .dato ? 0.75 : 0.95 }

    /// The policy with these settings; its random streams derive from `seed`, its nearest-token searches run as
    /// `similarity` says (the model's `ComputeSettings.similarity`). nil for `none`.
    public func makePolicy(seed: UInt64, similarity: NearestSearch.Options = NearestSearch.Options()) -> PruningPolicy? {
        switch settings {
        case .none: return nil
        case var .tome(s): s.seed = seed; return ToMe(settings: s, similarity: similarity)
        case var .dato(s): s.seed = seed; return DaTo(settings: s, similarity: similarity)
        case let .atedm(s): return ATEDM(settings: s, similarity: similarity)
        }
    }

    /// The settings `options` stand for; every option is checked and an unknown or malformed one named.
    static func settings(_ name: Name, _ options: [String]) throws -> Settings {
        var o = try Options(options, method: name.rawValue)
        let settings: Settings
        switch name {
        case .none:
            settings = .none
        case .tome:
            var s = ToMe.Settings()
            if o.flag("deterministic") { s.useRand = false }
            if o.flag("cross") { s.mergeCrossAttention = true }
            if o.flag("mlp") { s.mergeMLP = true }
            if let d = try o.int("downsample", in: 1...8) { s.maxDownsample = d }
            settings = .tome(s)
        case .dato:
            var s = o.flag("reference") ? DaTo.Settings.referenceCompatible : DaTo.Settings()
            if let g = try o.number("gamma", in: -100...100) { s.gamma = Float(g) }
            if let a = try o.number("alpha", in: 0...100) { s.alpha = Float(a) }
            if let l = try o.levels() { s.levels = l }
            if o.flag("cross") { s.pruneCrossAttention = true }
            if o.flag("ffn") { s.pruneFFN = true }
            if o.flag("noalign") { s.alignCFG = false }
            if o.flag("raw") { s.normalizeDynamics = false }
            if o.flag("randomsign") { s.randomSign = true }
            if o.flag("dynamics") { s.localRandom = false }
            settings = .dato(s)
        case .atedm:
            settings = .atedm(try atedmSettings(&o))
        }
        try o.finish()
        return settings
    }

    static func atedmSettings(_ o: inout Options) throws -> ATEDM.Settings {
        var s = ATEDM.Settings()
        if let l = try o.levels() { s.levels = l }
        if let st = try o.stages() { s.stages = st }
        if let t = try o.int("iterations", in: 1...1000) { s.walk.iterations = t }
        if let e = try o.number("tolerance", in: 0...1) { s.walk.tolerance = Float(e) }
        if let d = try o.number("damping", in: 0...1) { s.walk.damping = Float(d) }
        if let v = try o.int("self", in: 0...1) { s.walk.selfAttention = v == 1 }
        // gwpr= sets the direction and the map's normalisation; normalize= then overrides the latter.
        if let k = try o.choice("gwpr", GWPR.Walk.Kind.self) { s.walk.set(k) }
        if let v = try o.choice("normalize", ATEDM.MapNormalization.self) { s.walk.columnNormalized = v == .columns }
        if let r = try o.choice("recovery", ATEDM.Recovery.self) { s.recovery = r }
        if let f = try o.choice("features", ATEDM.Features.self) { s.features = f }
        if let m = try o.choice("mask", ATEDM.MaskPoint.self) { s.maskPoint = m }
        if o.flag("copyupdate") { s.copyUpdate = true }
        if let c = try o.choice("copy", ATEDM.Copy.self) { s.copyUpdate = c == .update }
        if o.flag("temporal") { s.temporal = true }
        if let n = try o.int("refresh", in: 1...10_000) { s.refreshSteps = n }
        if let tau = try o.number("dsap", in: 0...1) { s.dsapTau = tau }
        if let p = try o.int("protect", in: 0...1) { s.dsapProtect = p == 1 }
        if let f = try o.number("early", in: 0...10) { s.dsapEarlyFactor = f }
        if o.flag("sharedmask") { s.cfgSharing = .mask }
        if let v = try o.choice("share", ATEDM.Sharing.self) { s.cfgSharing = v }
        if let v = try o.choice("cfgscores", ATEDM.CFGScores.self) { s.cfgScores = v }
        return s
    }

    /// Options being consumed; whatever is left at the end is an error naming it.
    struct Options {
        let method: String
        var items: [String: String?] = [:]

        init(_ list: [String], method: String) throws {
            self.method = method
            for item in list {
                let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map { String($0).lowercased() }
                guard let key = kv.first, !key.isEmpty else {
                    throw PlanError(item.isEmpty ? "empty option in pruning method '\(method)'" : "\(method) option '\(PlanError.excerpt(item))' has no name")
                }
                guard items[key] == nil else { throw PlanError("\(method) option '\(PlanError.excerpt(key))' is given twice") }
                items[key] = kv.count == 2 ? kv[1] : .some(nil)
            }
        }

        mutating func flag(_ key: String) -> Bool {
            guard let v = items[key] else { return false }
            if v == nil { items[key] = nil; return true }
            return false   // key=value where a flag was expected: left for finish() to report
        }

        mutating func value(_ key: String) -> String? {
            guard let v = items[key], let value = v else { return nil }
            items[key] = nil
            return value
        }

        /// `key=value` where value is one of `T`'s raw values.
        mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) throws -> T? where T.RawValue == String {
            guard let v = value(key) else { return nil }
            guard let x = T(rawValue: v) else {
                throw PlanError("\(method) option \(key)=\(PlanError.excerpt(v)): use \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return x
        }

        mutating func number(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
            guard let v = value(key) else { return nil }
            guard let x = Double(v), range.contains(x) else { throw PlanError("\(method) option \(key)=\(PlanError.excerpt(v)) must be a number in \(range)") }
            return x
        }

        mutating func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
            guard let v = value(key) else { return nil }
            guard let x = Int(v), range.contains(x) else { throw PlanError("\(method) option \(key)=\(PlanError.excerpt(v)) must be an integer in \(range)") }
            return x
        }

        /// `levels=0+1`: levels 0...7 joined by '+' (a '+' in a plan string joins depths and pruning only
        /// before a method name, so this form reads back).
        mutating func levels() throws -> Set<Int>? {
            guard let v = value("levels") else { return nil }
            let pieces = v.split(separator: "+", omittingEmptySubsequences: false)
            let l = pieces.compactMap { $0.allSatisfy(\.isASCII) ? Int($0) : nil }
            guard !l.isEmpty, l.count == pieces.count, l.allSatisfy({ (0...7).contains($0) }) else {
                throw PlanError("\(method) option levels=\(PlanError.excerpt(v)) must list levels 0...7 joined by '+', e.g. levels=0+1")
            }
            return Set(l)
        }

        /// `stages=down+up`: AT-EDM's UNet parts (down, mid, up) joined by '+'.
        mutating func stages() throws -> Set<ATEDM.Stage>? {
            guard let v = value("stages") else { return nil }
            let names: [String: ATEDM.Stage] = ["down": .down, "mid": .mid, "up": .up]
            let pieces = v.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
            let l = pieces.compactMap { names[$0] }
            guard !l.isEmpty, l.count == pieces.count else {
                throw PlanError("\(method) option stages=\(PlanError.excerpt(v)) must list down, mid, up joined by '+', e.g. stages=down+up")
            }
            return Set(l)
        }

        func finish() throws {
            guard let key = items.keys.sorted().first else { return }
            let text = key + (items[key].flatMap { $0 }.map { "=" + $0 } ?? "")
            throw PlanError("unknown or malformed \(method) option '\(PlanError.excerpt(text))'")
        }
    }
}
