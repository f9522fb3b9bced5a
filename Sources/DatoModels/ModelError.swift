/// Errors raised while configuring or loading models, each naming the file and field involved.
public enum ModelError: Error, CustomStringConvertible {
    /// A config file is missing, unreadable, or has a bad or unsupported field.
    case config(file: String, field: String, message: String)
    /// Weights did not match the model: missing, mis-shaped or unexpected tensors, all listed.
    case weights(source: String, problems: [String])
    /// An input had the wrong shape or value.
    case input(String)
    /// A model folder or checkpoint could not be recognised.
    case layout(path: String, message: String)

    public var description: String {
        switch self {
        case let .config(file, field, message):
            return "\(file): field '\(field)': \(message)"
        case let .weights(source, problems):
            let shown = problems.prefix(40).map { "  - \($0)" }.joined(separator: "\n")
            let more = problems.count > 40 ? "\n  ... and \(problems.count - 40) more" : ""
            return "\(source): weights do not match the model (\(problems.count) problem\(problems.count == 1 ? "" : "s")):\n\(shown)\(more)"
        case let .input(message):
            return "invalid input: \(message)"
        case let .layout(path, message):
            return "\(path): \(message)"
        }
    }
}
