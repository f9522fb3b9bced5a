import DatoPipeline
import Foundation

/// The loaded model the server generates with, and the names AUTOMATIC1111's clients know it by.
public struct ServedModel: @unchecked Sendable {
    /// The loaded pipeline (reentrant; the queue runs one job at a time on it).
    public let pipeline: StableDiffusionPipeline
    /// Where it was loaded from (a diffusers folder or a checkpoint file).
    public let path: String
    /// AUTOMATIC1111's short hash (10 hex digits of the weights' SHA-256), when known.
    public let hash: String?
    /// The full SHA-256, when known.
    public let sha256: String?
    /// A precision note for the infotext (nil for fp32).
    public let precision: String?

    private let displayName: String?

    /// `name` overrides the model's own name (the folder or file name) in listings and metadata.
    public init(pipeline: StableDiffusionPipeline, path: String, hash: String?, sha256: String? = nil, precision: String? = nil,
                name: String? = nil) {
        self.pipeline = pipeline
        displayName = name
        self.path = path
        self.hash = hash
        self.sha256 = sha256
        self.precision = precision
    }

    /// The model's name (AUTOMATIC1111's `model_name`: the file or folder name without extension).
    public var name: String { displayName ?? pipeline.modelName }

    /// AUTOMATIC1111's checkpoint title: `name [hash]`.
    public var title: String { hash.map { "\(name) [\($0)]" } ?? name }

    /// Whether `text` names this model as AUTOMATIC1111 accepts a checkpoint name: its title, name, file name
    /// (with or without extension), short hash or full SHA-256.
    public func isNamed(_ text: String) -> Bool {
        let file = (path as NSString).lastPathComponent
        var names: Set<String> = [title, name, file, (file as NSString).deletingPathExtension]
        if let hash { names.insert(hash) }
        if let sha256 { names.insert(sha256) }
        return names.contains(text.trimmingCharacters(in: .whitespaces))
    }

    /// The `/sdapi/v1/sd-models` entry.
    var listing: JSONValue {
        ["title": .string(title), "model_name": .string(name), "hash": JSONValue(hash), "sha256": JSONValue(sha256),
         "filename": .string(path), "config": .null]
    }
}
