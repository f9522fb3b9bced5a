import DatoCore
import DatoModels
import Foundation

/// Reading the tokenizer's files: regular files of bounded size, strict JSON, and decoding failures turned
/// into `ModelError.config` naming the file and the field.
enum TokenizerFile {
    /// Largest vocabulary, merge list or `tokenizer.json` read (CLIP's `tokenizer.json` is 2 MB).
    static let tablesLimit = 64 << 20
    /// Largest `tokenizer_config.json` / `special_tokens_map.json` read (real ones are a few kilobytes).
    static let configLimit = 16 << 20
    /// Token ids must lie below this (CLIP has 49,408 tokens).
    static let idLimit = ModelBounds.vocabulary.upperBound

    /// The bytes of a tokenizer file: a regular file (a FIFO or device is refused, not waited on) of at most
    /// `limit` bytes.
    static func read(_ path: String, limit: Int, _ what: String) throws -> Data {
        do {
            return try RegularFile.read(path, limit: limit)
        } catch let e as RegularFileError {
            throw ModelError.layout(path: path, message: "cannot read \(what): \(e.reason)")
        }
    }

    /// Decodes strict JSON; a failure names the file and the field's path (`ConfigFile.decode`).
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
        try ConfigFile.decode(type, data: data, file: file)
    }

    /// Whether `path` names an existing file (or anything else that is not a folder: reading it then says
    /// what is wrong).
    static func exists(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
    }
}
