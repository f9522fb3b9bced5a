import DatoPipeline

/// AUTOMATIC1111's sampler and scheduler names and the engine's schedulers behind them.
///
/// AUTOMATIC1111 (1.9 and later) names a sampler and a noise schedule apart: `sampler_name` "DPM++ 2M" with
/// `scheduler` "Karras"; its "Automatic" schedule is the sampler's own default (Karras for DPM++ 2M, the model's
/// timestep spacing for the others). The older combined names ("DPM++ 2M Karras") still work, as there.
public enum SamplerCatalog {
    /// One sampler as `/sdapi/v1/samplers` lists it.
    public struct Sampler: Sendable {
        public let name: String
        public let aliases: [String]
        /// The scheduler kind with the model's spacing, and with Karras sigmas when the sampler has them.
        let plain: SchedulerKind
        let karras: SchedulerKind?
        /// The sampler's "Automatic" schedule uses Karras sigmas.
        let karrasByDefault: Bool
    }

    /// The samplers, in AUTOMATIC1111's order.
    public static let samplers: [Sampler] = [
        Sampler(name: "DPM++ 2M", aliases: ["k_dpmpp_2m"], plain: .dpmpp2m, karras: .dpmpp2mKarras, karrasByDefault: true),
        Sampler(name: "Euler a", aliases: ["k_euler_a", "k_euler_ancestral"], plain: .eulerAncestral, karras: nil, karrasByDefault: false),
        Sampler(name: "Euler", aliases: ["k_euler"], plain: .euler, karras: nil, karrasByDefault: false),
        Sampler(name: "DDIM", aliases: ["ddim"], plain: .ddim, karras: nil, karrasByDefault: false),
        Sampler(name: "PLMS", aliases: ["plms"], plain: .pndm, karras: nil, karrasByDefault: false),
    ]

    /// Schedules: AUTOMATIC1111's name and label.
    public static let schedulers: [(name: String, label: String)] = [
        ("automatic", "Automatic"), ("karras", "Karras"), ("normal", "Normal"),
    ]

    /// The sampler AUTOMATIC1111's API uses when a request names none (its `sampler_index` default).
    public static let defaultSampler = "Euler"

    /// The engine's scheduler for a sampler and schedule name (nil or "" schedule: "Automatic"). Errors name
    /// the field and the names accepted.
    public static func kind(sampler: String, scheduler: String?) throws -> SchedulerKind {
        var name = sampler.trimmingCharacters(in: .whitespaces)
        var schedule = (scheduler ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        if name.lowercased().hasSuffix(" karras") {   // "DPM++ 2M Karras": the older combined name
            name = String(name.dropLast(" karras".count))
            if schedule.isEmpty || schedule == "automatic" { schedule = "karras" }
        }
        if name.lowercased() == "k_dpmpp_2m_ka" { name = "DPM++ 2M"; schedule = "karras" }
        guard let entry = samplers.first(where: { $0.name.lowercased() == name.lowercased()
            || $0.aliases.contains(name.lowercased()) }) else {
            throw APIError.invalid(["sampler_name"], "sampler '\(sampler)' is not available; choose one of: "
                + samplers.map(\.name).joined(separator: ", "), type: "value_error.sampler")
        }
        guard let s = schedulers.first(where: { $0.name == schedule || $0.label.lowercased() == schedule })
                ?? (schedule.isEmpty ? schedulers.first : nil) else {
            throw APIError.invalid(["scheduler"], "scheduler '\(scheduler ?? "")' is not available; choose one of: "
                + schedulers.map(\.label).joined(separator: ", "), type: "value_error.scheduler")
        }
        switch s.name {
        case "karras":
            guard let karras = entry.karras else {
                throw APIError.invalid(["scheduler"], "Karras sigmas are implemented for DPM++ 2M only; use Automatic with \(entry.name)",
                                       type: "value_error.scheduler")
            }
            return karras
        case "normal": return entry.plain
        default: return entry.karrasByDefault ? (entry.karras ?? entry.plain) : entry.plain
        }
    }

    /// The `/sdapi/v1/samplers` list.
    static var samplerListing: JSONValue {
        .array(samplers.map { s in
            ["name": .string(s.name), "aliases": .array(s.aliases.map { .string($0) }),
             "options": s.karrasByDefault ? ["scheduler": "karras"] : [:]]
        })
    }

    /// The `/sdapi/v1/schedulers` list.
    static var schedulerListing: JSONValue {
        .array(schedulers.map { s in
            ["name": .string(s.name), "label": .string(s.label), "aliases": .null,
             "default_rho": s.name == "karras" ? 7.0 : -1.0, "need_inner_model": false]
        })
    }

    /// AUTOMATIC1111's name of the sampler and schedule a kind runs, for `info` (sampler_name) and the infotext.
    static func names(_ kind: SchedulerKind) -> (sampler: String, scheduler: String) {
        switch kind {
        case .dpmpp2mKarras: return ("DPM++ 2M", "Karras")
        case .dpmpp2m: return ("DPM++ 2M", "Normal")
        default: return (GenerationParameters.samplerName(kind), "Automatic")
        }
    }
}
