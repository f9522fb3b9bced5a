import Foundation

/// An output file that cannot be written, in one line: "cannot write PATH: REASON".
public struct OutputFileError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// The path as the user gave it.
    public let path: String
    /// Why it cannot be written, e.g. "it is a FIFO (named pipe), not a regular file" or "No space left on device".
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// An error whose reason is the system's message for `code` (an `errno` value).
    public init(path: String, errno code: Int32, doing action: String? = nil) {
        let message = String(cString: strerror(code))
        self.init(path: path, reason: action.map { "\($0): \(message)" } ?? message)
    }

    public var description: String { "cannot write \(path.isEmpty ? "''" : path): \(reason)" }
    public var errorDescription: String? { description }
}
