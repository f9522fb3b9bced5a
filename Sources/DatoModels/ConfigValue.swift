import DatoCore
import Foundation

/// A config value that diffusers allows to be one integer or one per block (e.g. `attention_head_dim`).
public enum IntOrList: Codable, Equatable, Sendable {
    case one(Int)
    case list([Int])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int.self) { self = .one(v) } else { self = .list(try c.decode([Int].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .one(let v): try c.encode(v)
        case .list(let v): try c.encode(v)
        }
    }

    /// The value for each of `count` blocks.
    public func perBlock(_ count: Int) -> [Int] {
        switch self {
        case .one(let v): return Array(repeating: v, count: count)
        case .list(let v): return v
        }
    }
}

/// Reads and decodes JSON files (configs, tokenizer files), turning decoding failures into errors that name the
/// file and the field.
public enum ConfigFile {
    /// Largest config file read (real ones are a few kilobytes).
    static let maxBytes = 16 << 20

    static func load<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        let data: Data
        do {
            data = try RegularFile.read(path, limit: maxBytes)
        } catch let e as RegularFileError {
            throw ModelError.config(file: path, field: "(file)", message: e.reason)
        }
        return try decode(type, data: data, file: path)
    }

    /// Decodes strict JSON; a failure is a `ModelError.config` naming `file` and the field's path
    /// (`model.vocab.abc`, `pad_token`, `(root)`). `ModelError`s thrown by the decoded types pass through.
    public static func decode<T: Decodable>(_ type: T.Type, data: Data, file: String) throws -> T {
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

    private static func describe(_ ctx: DecodingError.Context) -> String {
        guard let underlying = ctx.underlyingError else { return ctx.debugDescription }
        return "\(ctx.debugDescription) (\(underlying))"
    }

    /// A coding path as `a.b.3.c`, or `(root)`.
    public static func path(_ keys: [CodingKey]) -> String {
        keys.isEmpty ? "(root)" : keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}
