/// Reads typed fields from a JSON object, collecting FastAPI-style issues for the ones of the wrong type or out
/// of range (every bad field is reported, not only the first). Absent and null fields read as nil, as
/// AUTOMATIC1111's all-optional request models take them; fields it does not ask for are ignored.
struct FieldReader {
    let object: [String: JSONValue]
    /// Where the object sits in the body (`["override_settings"]` for its fields).
    let path: [String]
    private(set) var issues: [ValidationIssue] = []

    init(_ object: [String: JSONValue], path: [String] = []) {
        self.object = object
        self.path = path
    }

    mutating func fail(_ key: String, _ message: String, type: String, context: [String: JSONValue] = [:]) {
        issues.append(.body(path + [key], message, type: type, context: context))
    }

    mutating func string(_ key: String) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case let .string(v)?: return v
        default: fail(key, "str type expected", type: "type_error.str"); return nil
        }
    }

    mutating func bool(_ key: String) -> Bool? {
        switch object[key] {
        case nil, .null?: return nil
        case let .bool(v)?: return v
        default: fail(key, "value could not be parsed to a boolean", type: "type_error.bool"); return nil
        }
    }

    /// An integer (a float with no fraction counts), within `range` when given.
    mutating func int(_ key: String, in range: ClosedRange<Int64>? = nil) -> Int64? {
        let value: Int64
        switch object[key] {
        case nil, .null?: return nil
        case let .int(v)?: value = v
        case let .double(v)? where v.rounded() == v && abs(v) < 9.0e15: value = Int64(v)
        default: fail(key, "value is not a valid integer", type: "type_error.integer"); return nil
        }
        guard let range else { return value }
        return check(key, value, range) ? value : nil
    }

    /// A finite number, within `range` when given.
    mutating func float(_ key: String, in range: ClosedRange<Double>? = nil) -> Double? {
        let value: Double
        switch object[key] {
        case nil, .null?: return nil
        case let .int(v)?: value = Double(v)
        case let .double(v)? where v.isFinite: value = v
        default: fail(key, "value is not a valid float", type: "type_error.float"); return nil
        }
        guard let range else { return value }
        return check(key, value, range) ? value : nil
    }

    /// A JSON object (AUTOMATIC1111's `override_settings`).
    mutating func dictionary(_ key: String) -> [String: JSONValue]? {
        switch object[key] {
        case nil, .null?: return nil
        case let .object(v)?: return v
        default: fail(key, "value is not a valid dict", type: "type_error.dict"); return nil
        }
    }

    private mutating func check<T: Comparable & Sendable>(_ key: String, _ value: T, _ range: ClosedRange<T>) -> Bool {
        if value < range.lowerBound {
            fail(key, "ensure this value is greater than or equal to \(range.lowerBound)", type: "value_error.number.not_ge",
                 context: ["limit_value": Self.json(range.lowerBound)])
            return false
        }
        if value > range.upperBound {
            fail(key, "ensure this value is less than or equal to \(range.upperBound)", type: "value_error.number.not_le",
                 context: ["limit_value": Self.json(range.upperBound)])
            return false
        }
        return true
    }

    private static func json<T>(_ v: T) -> JSONValue {
        if let i = v as? Int64 { return .int(i) }
        if let d = v as? Double { return .double(d) }
        return .string("\(v)")
    }
}
