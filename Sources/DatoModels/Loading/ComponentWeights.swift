import Foundation

/// The weights file of one component folder (`unet/`, `vae/`, `text_encoder/`), chosen among the forms
/// diffusers reads: safetensors or `torch.save` `.bin`, single or sharded (an `index.json` and its shards),
/// plain or a variant (`--variant fp16`: `diffusion_pytorch_model.fp16.safetensors`).
public struct ComponentWeights: Sendable, Equatable {
    /// The component folder.
    public let folder: String
    /// The chosen file's name in the folder: a weights file, or a sharded index (`...index.json`).
    public let fileName: String
    /// The variant the file belongs to (nil: the plain file).
    public let variant: String?
    /// Something the user may want to know about the choice (e.g. the fp16 variant used as the only weights).
    public let note: String?
    /// Something the user should know (e.g. the variant asked for is missing here, the plain file is used).
    public let warning: String?

    /// The chosen file's path.
    public var path: String { "\(folder)/\(fileName)" }
    /// Whether the weights are sharded (the chosen file is an index).
    public var isSharded: Bool { fileName.hasSuffix(".json") }

    /// Opens the weights: the single file, or every shard of the index.
    public func open() throws -> CheckpointContents {
        isSharded ? try ShardedCheckpoint(index: path) : try openCheckpoint(path)
    }

    /// Every file the weights are read from: the single file, or the index and the shards it names (read
    /// from the index; the shards are not opened).
    public func files() throws -> [String] {
        isSharded ? [path] + (try ShardedCheckpoint.shardFiles(index: path)) : [path]
    }

    /// Chooses the weights of `folder` as diffusers does. With `variant` nil: the plain files (safetensors
    /// before `.bin`), else -- which diffusers does not do, but many folders only carry fp16 weights -- the
    /// `fp16` variant, with a note. With a variant: its files, else the plain ones with a warning (diffusers
    /// loads a mixture of variant and plain components). Nothing found is an error listing the names looked for.
    public static func find(in folder: String, naming: WeightsNaming, variant: String?) throws -> ComponentWeights {
        if let variant { try checkVariantName(variant) }
        func first(_ v: String?) -> String? {
            naming.candidates(variant: v).first { FileManager.default.fileExists(atPath: "\(folder)/\($0)") }
        }
        if let variant {
            if let name = first(variant) {
                return ComponentWeights(folder: folder, fileName: name, variant: variant, note: nil, warning: nil)
            }
            if let name = first(nil) {
                return ComponentWeights(folder: folder, fileName: name, variant: nil, note: nil,
                                        warning: "\(folder): no \(variant) variant weights (no \(WeightsNaming.adding(variant, to: naming.safetensors)) nor its .bin or sharded forms); using the plain \(name)")
            }
            throw notFound(folder, naming: naming, looked: [variant, nil])
        }
        if let name = first(nil) { return ComponentWeights(folder: folder, fileName: name, variant: nil, note: nil, warning: nil) }
        if let name = first("fp16") {
            return ComponentWeights(folder: folder, fileName: name, variant: "fp16",
                                    note: "\(folder): no plain weights; using the fp16 variant \(name) (as --variant fp16)", warning: nil)
        }
        throw notFound(folder, naming: naming, looked: [nil, "fp16"])
    }

    /// Whether `folder` has weights of `variant` in any form.
    public static func has(variant: String, in folder: String, naming: WeightsNaming) -> Bool {
        naming.candidates(variant: variant).contains { FileManager.default.fileExists(atPath: "\(folder)/\($0)") }
    }

    /// A variant name must be a plain word (`fp16`, `ema`, `non_ema`): it becomes part of file names.
    public static func checkVariantName(_ variant: String) throws {
        let allowed = variant.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
        guard !variant.isEmpty, variant.count <= 64, allowed else {
            throw ModelError.input("variant '\(variant)': a variant is a name like fp16 or ema (letters, digits, '_' and '-', at most 64)")
        }
    }

    /// The error for a folder without weights: the names looked for, and the variants present, if any.
    static func notFound(_ folder: String, naming: WeightsNaming, looked variants: [String?]) -> ModelError {
        let names = variants.flatMap { naming.candidates(variant: $0) }
        var message = "no weights file: looked for \(names.joined(separator: ", "))"
        let present = Set(((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap(naming.variant(of:)))
        let other = present.subtracting(variants.compactMap { $0 }).sorted()
        if !other.isEmpty {
            message += "; the folder has weights of the variant(s) \(other.joined(separator: ", ")): choose one with --variant"
        }
        return ModelError.layout(path: folder, message: message)
    }
}
