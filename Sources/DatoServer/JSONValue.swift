import Foundation

/// A JSON value as a request carried it: the `override_settings` object, the echoed `parameters`, and the
/// responses' free-form parts. Integers stay exact (seeds up to 2^63) apart from other numbers.
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let v = try? c.decode(Bool.self) { self = .bool(v); return }
        if let v = try? c.decode(Int64.self) { self = .int(v); return }
        if let v = try? c.decode(Double.self) { self = .double(v); return }
        if let v = try? c.decode(String.self) { self = .string(v); return }
        if let v = try? c.decode([JSONValue].self) { self = .array(v); return }
        self = .object(try c.decode([String: JSONValue].self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(v): try c.encode(v)
        case let .int(v): try c.encode(v)
        case let .double(v): try c.encode(v.isFinite ? v : 0)
        case let .string(v): try c.encode(v)
        case let .array(v): try c.encode(v)
        case let .object(v): try c.encode(v)
        }
    }

    /// The value as JSON text (keys sorted, so equal values give equal text).
    public var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A request body that must be a JSON object: 422 as FastAPI words it when it does not parse
    /// (`value_error.jsondecode`; nesting deeper than the decoder's limit included) or is no object.
    static func bodyObject(_ body: Data) throws -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: body)
        } catch {
            throw APIError(issues: [ValidationIssue(location: ["body"], message: "the body is not valid JSON", type: "value_error.jsondecode")])
        }
        guard case let .object(object) = value else {
            throw APIError(issues: [ValidationIssue(location: ["body"], message: "value is not a valid dict", type: "type_error.dict")])
        }
        return object
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// An optional string as a JSON string or null.
    init(_ value: String?) { self = value.map { .string($0) } ?? .null }
    /// A float as a JSON number, rounded to the digits it was given with (7.5 stays 7.5, not 7.5000000001).
    init(_ value: Float) { self = .double(Double(String(value)) ?? Double(value)) }
    /// A count or size.
    init(_ value: Int) { self = .int(Int64(value)) }
}
