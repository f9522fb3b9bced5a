/// Errors raised by the compute core.
public enum ComputeError: Error, CustomStringConvertible {
    /// oneDNN refused or failed an operation.
    case backend(String)
    /// A tensor had the wrong shape for an operation.
    case shape(String)

    public var description: String {
        switch self {
        case .backend(let m): return "compute backend error: \(m)"
        case .shape(let m): return "shape error: \(m)"
        }
    }
}
