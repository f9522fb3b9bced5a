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

    /// Decodes strict JSON; a failure names the file and the field's path (`model.vocab.abc`, `pad_token`).
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw ModelError.config(file: file, field: path(ctx.codingPath + [key]), message: "missing")
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx) {
            throw ModelError.config(file: file, field: path(ctx.codingPath), message: ctx.debugDescription)
        } catch let DecodingError.dataCorrupted(ctx) {
            let what = ctx.codingPath.isEmpty ? "not valid JSON" : "invalid value"
            throw ModelError.config(file: file, field: path(ctx.codingPath), message: "\(what): \(describe(ctx))")
        } catch let e as ModelError {
            throw e
        } catch {
            throw ModelError.config(file: file, field: "(root)", message: "not valid JSON: \(error)")
        }
    }

    /// A decoding context's message with its underlying parser error, if any.
    private static func describe(_ ctx: DecodingError.Context) -> String {
        guard let underlying = ctx.underlyingError else { return ctx.debugDescription }
        return "\(ctx.debugDescription) (\(underlying))"
    }

    /// A coding path as `a.b.3.c`, or `(root)`.
    static func path(_ keys: [CodingKey]) -> String {
        keys.isEmpty ? "(root)" : keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }

    /// Whether `path` names an existing file (or anything else that is not a folder: reading it then says
    /// what is wrong).
    static func exists(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
    }
}
