import DatoDigest
import DatoModels
import DatoPipeline
import Foundation

/// The identity of a model as a search journal records it: a SHA-256 over every file that decides what the
/// model generates (each component's weights and config, the tokenizer files, the scheduler config), so a
/// journal's evaluations are reused only for the very same model. Weights are hashed by content, cached by
/// path, size, modification time and inode (`FileDigest`, in the cache folder the caller names), so only a changed
/// file is read again.
public enum ModelIdentity {
    /// The identity of a diffusers folder (its `variant` weights files when given), or of a single-file
    /// checkpoint with its optional config folder; a `predictionType` given to the loader is part of it.
    /// Digests of large files are cached in `digestCache` when given (`FileDigest`).
    public static func of(model path: String, configFolder: String?, variant: String? = nil,
                          predictionType: PredictionType? = nil, digestCache: URL? = nil) throws -> String {
        var sha = SHA256Lines()
        for (label, file) in try files(model: path, configFolder: configFolder, variant: variant) {
            sha.add(label, try file.map { try FileDigest.sha256($0, cacheDirectory: digestCache) } ?? "absent")
        }
        if let predictionType { sha.add("prediction type", predictionType.rawValue) }
        return sha.hex
    }

    /// The files that `StableDiffusionPipeline.load` reads, labelled by role; nil where an optional file
    /// is absent (a default is used then, and "absent" is part of the identity).
    static func files(model path: String, configFolder: String?, variant: String? = nil) throws -> [(String, String?)] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SearchError("no model at '\(path)'")
        }
        if isDirectory.boolValue {
            let weights: [(String, WeightsNaming)] = [("unet", .diffusers), ("vae", .diffusers), ("text_encoder", .transformers)]
            var out: [(String, String?)] = [("model_index.json", "\(path)/model_index.json")]
            for (folder, naming) in weights {
                out.append(("\(folder)/config.json", "\(path)/\(folder)/config.json"))
                out += try weightsFiles("\(path)/\(folder)", naming, variant: variant).map { ($0, $1) }
            }
            return out + tokenizerAndScheduler(path, tokenizerRequired: true)
        }
        var out: [(String, String?)] = [("checkpoint", path)]
        if let dir = configFolder {
            for folder in ["unet", "vae", "text_encoder"] { out.append(("config \(folder)/config.json", "\(dir)/\(folder)/config.json")) }
            out += tokenizerAndScheduler(dir, tokenizerRequired: false).map { ("config \($0.0)", $0.1) }
        }
        return out
    }

    /// The tokenizer files the loader reads (`CLIPTokenizer.files(in:)`: tokenizer.json or vocab.json and
    /// merges.txt, and the special-token configs; from a config folder only when it has a tokenizer) and the
    /// scheduler config.
    static func tokenizerAndScheduler(_ dir: String, tokenizerRequired: Bool) -> [(String, String?)] {
        func optional(_ relative: String) -> (String, String?) {
            let p = "\(dir)/\(relative)"
            return (relative, FileManager.default.fileExists(atPath: p) ? p : nil)
        }
        var out: [(String, String?)] = []
        let tokenizer = "\(dir)/tokenizer"
        if tokenizerRequired || CLIPTokenizer.hasTokenizer(in: tokenizer) {
            out += CLIPTokenizer.files(in: tokenizer).map { ("tokenizer/\($0)", "\(tokenizer)/\($0)") }
        }
        return out + [optional("scheduler/scheduler_config.json")]
    }

    /// The component's weights files as the loader picks them (`ComponentWeights`): the single file, or a
    /// sharded index and its shards, each labelled.
    static func weightsFiles(_ folder: String, _ naming: WeightsNaming, variant: String?) throws -> [(String, String)] {
        let name = (folder as NSString).lastPathComponent
        let weights = try ComponentWeights.find(in: folder, naming: naming, variant: variant)
        guard weights.isSharded else { return [("\(name) weights", weights.path)] }
        return try weights.files().map { ("\(name) weights \(($0 as NSString).lastPathComponent)", $0) }
    }
}

/// SHA-256 over "label: digest" lines.
private struct SHA256Lines {
    private var lines: [String] = []
    mutating func add(_ label: String, _ digest: String) { lines.append("\(label): \(digest)\n") }
    var hex: String {
        var sha = SHA256()
        sha.update(Data(lines.joined().utf8))
        return sha.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
