import Foundation

/// A model the server can switch to: the name clients see and where it is.
public struct ModelEntry: Sendable, Equatable {
    public let name: String
    public let path: String

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }
}

/// The models a server offers (`--model-dir`) and the one loaded. One model is in memory at a time; switching
/// (a request's `sd_model_checkpoint`, or POST /options) loads another through the caller's loader, on the job
/// queue's thread, so it never races a generation.
public final class ModelCatalog: @unchecked Sendable {
    /// Loads an entry with the server's compute settings (the CLI's precision, variant, ...).
    public typealias Loader = @Sendable (ModelEntry) throws -> ServedModel

    private let lock = NSLock()
    private var loaded: ServedModel
    /// Short hashes of the models loaded so far, by name: their titles (`name [hash]`) stay valid after a switch,
    /// as AUTOMATIC1111's checkpoint list keeps them.
    private var hashes: [String: String] = [:]
    /// The models offered besides the loaded one (the loaded one may be among them).
    public let entries: [ModelEntry]
    private let loader: Loader?

    public init(loaded: ServedModel, entries: [ModelEntry] = [], loader: Loader? = nil) {
        self.loaded = loaded
        self.entries = entries
        self.loader = loader
        if let hash = loaded.hash { hashes[loaded.name] = hash }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// The model loaded now.
    public var current: ServedModel { locked { loaded } }

    /// Whether `name` names the loaded model or one of the entries (by name or file name).
    public func knows(_ name: String) -> Bool {
        current.isNamed(name) || entry(named: name) != nil
    }

    private func entry(named name: String) -> ModelEntry? {
        let text = name.trimmingCharacters(in: .whitespaces)
        return entries.first { e in
            let file = (e.path as NSString).lastPathComponent
            return [e.name, file, (file as NSString).deletingPathExtension, title(e)].contains(text)
                || hashes[e.name] == text
        }
    }

    /// An entry's title: `name [hash]` once its hash is known, else its name.
    private func title(_ e: ModelEntry) -> String {
        locked { hashes[e.name] }.map { "\(e.name) [\($0)]" } ?? e.name
    }

    /// The model named `name` (nil: the loaded one), loading it in place of the loaded one when needed. Runs
    /// on the job queue's thread.
    func use(_ name: String?) throws -> ServedModel {
        let now = current
        guard let name, !now.isNamed(name) else { return now }
        guard let e = entry(named: name), let loader else {
            throw APIError.invalid(["override_settings", "sd_model_checkpoint"], "model '\(name)' is not offered by this server")
        }
        let model = try loader(e)
        locked {
            loaded = model
            if let hash = model.hash { hashes[model.name] = hash }
        }
        return model
    }

    /// The `/sdapi/v1/sd-models` list: the loaded model with its hash, then the other entries.
    var listing: JSONValue {
        let now = current
        let others = entries.filter { !now.isNamed($0.name) && $0.path != now.path }
        return .array([now.listing] + others.map { e in
            ["title": .string(title(e)), "model_name": .string(e.name), "hash": JSONValue(locked { hashes[e.name] }), "sha256": .null,
             "filename": .string(e.path), "config": .null]
        })
    }
}
