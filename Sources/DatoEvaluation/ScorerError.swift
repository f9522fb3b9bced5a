/// An alignment scorer's files could not be read, or it was given an image it does not read.
public struct ScorerError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, naming the file or the input.
    public let message: String

    /// An error with `message`.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "scorer: \(message)" }
}
