/// A problem with a safetensors file, naming the file and, where there is one, the tensor.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    /// What kind of problem it is (stable for tests and callers).
    public enum Kind: String, Sendable {
        case unreadable, truncated, headerTooLarge, headerNotJSON, badEntry, unknownDType, sizeMismatch
        case outOfBounds, overlap, missingTensor, unsupportedDType
    }
    public let kind: Kind
    public let file: String
    public let tensor: String?
    public let detail: String

    public init(_ kind: Kind, file: String, tensor: String? = nil, _ detail: String) {
        self.kind = kind; self.file = file; self.tensor = tensor; self.detail = detail
    }

    public var description: String {
        if let tensor { return "\(file): tensor '\(tensor)': \(detail)" }
        return "\(file): \(detail)"
    }
}
