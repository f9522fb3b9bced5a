/// A plan that cannot be used, with the reason and, once known, the plan text it came from.
public struct PlanError: Error, CustomStringConvertible {
    /// What is wrong, naming the bad part.
    public let message: String
    /// The plan argument (shortened for display), when the error arose while reading one.
    public let plan: String?

    public init(_ message: String) {
        self.message = message
        plan = nil
    }

    init(_ message: String, plan: String?) {
        self.message = message
        self.plan = plan
    }

    public var description: String {
        guard let plan else { return "invalid acceleration plan: \(message)" }
        return "invalid acceleration plan '\(Self.excerpt(plan, limit: 80))': \(message)"
    }

    /// The same error naming `plan`, unless it already names one.
    func naming(plan text: String) -> PlanError {
        plan == nil ? PlanError(message, plan: text) : self
    }

    /// `text` for an error message: control and format characters escaped, and cut after about `limit` Unicode scalars.
    static func excerpt<S: StringProtocol>(_ text: S, limit: Int = 40) -> String {
        var out = String.UnicodeScalarView()
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit { return String(out) + "..." }
            if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format {
                let escaped = "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars
                out.append(contentsOf: escaped)
                count += escaped.count
            } else {
                out.append(scalar)
                count += 1
            }
        }
        return String(out)
    }
}
