import DatoCore
import DatoDigest
import DatoModels
import Foundation

/// The `parameters` text that AUTOMATIC1111 and compatible tools read from a PNG, e.g.
///
///     a photo of a cat
///     Negative prompt: blurry
///     Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: 6ce0161689, Model: v1-5
public enum GenerationParameters {
    /// AUTOMATIC1111's names for the samplers.
    public static func samplerName(_ kind: SchedulerKind) -> String {
        switch kind {
        case .ddim: return "DDIM"
        case .pndm: return "PLMS"
        case .euler: return "Euler"
        case .eulerAncestral: return "Euler a"
        case .dpmpp2m: return "DPM++ 2M"
        case .dpmpp2mKarras: return "DPM++ 2M Karras"
        }
    }

    /// The text for one generated image. `extra` fields are appended in order (later issues add the plan).
    public static func text(request r: GenerationRequest, sampler: SchedulerKind, modelName: String, modelHash: String?,
                            extra: [(String, String)] = []) -> String {
        var fields: [(String, String)] = [
            ("Steps", "\(r.steps)"), ("Sampler", samplerName(sampler)), ("CFG scale", format(r.guidanceScale)),
            ("Seed", "\(r.seed)"), ("Size", "\(r.width)x\(r.height)"),
        ]
        if let modelHash { fields.append(("Model hash", modelHash)) }
        fields.append(("Model", modelName))
        if sampler == .ddim && r.eta != 0 { fields.append(("Eta", format(r.eta))) }
        fields += extra
        var lines = [r.prompt]
        if !r.negativePrompt.isEmpty { lines.append("Negative prompt: \(r.negativePrompt)") }
        lines.append(fields.map { "\($0.0): \(quoted($0.1))" }.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    static func format(_ v: Float) -> String {
        v == v.rounded() ? String(format: "%.1f", v) : String(v)
    }

    /// Values holding commas or colons are quoted, as AUTOMATIC1111 does.
    static func quoted(_ v: String) -> String {
        guard v.contains(",") || v.contains(":") || v.contains("\"") else { return v }
        return "\"" + v.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// AUTOMATIC1111's short model hash: the first 10 hex digits of the SHA-256 of the weights file.
    /// For a diffusers folder the UNet weights file the loader picks (of `variant`, when given) stands for the
    /// model (the index of sharded weights). Digests of large files are cached in `cacheDirectory` when given
    /// (`FileDigest`).
    public static func modelHash(path: String, variant: String? = nil, cacheDirectory: URL? = nil) -> String? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return nil }
        var file = path
        if isDir.boolValue {
            guard let found = try? ComponentWeights.find(in: "\(path)/unet", naming: .diffusers, variant: variant) else { return nil }
            file = found.path
        }
        // Hashing a 4 GB checkpoint takes about half a minute; FileDigest caches the result.
        return (try? FileDigest.sha256(file, cacheDirectory: cacheDirectory)).map { String($0.prefix(10)) }
    }
}
