import Foundation

/// A command-line value that cannot be used, naming the flag.
public struct ArgumentError: Error, CustomStringConvertible, Equatable {
    /// The flag as the user writes it, e.g. `--population`.
    public let flag: String
    /// What is wrong with its value.
    public let message: String

    public init(_ flag: String, _ message: String) {
        self.flag = flag
        self.message = message
    }

    public var description: String { "\(flag): \(message)" }
}

/// Checks of command-line values (numbers, ranges and lists), shared by dato's commands so that every bad
/// value is refused before any model is loaded, with one message naming the flag.
public enum ArgumentCheck {
    /// The most compute threads a command accepts.
    public static let maximumThreads = 1024
    /// The most entries a list flag (seeds, depth values) accepts.
    public static let maximumListLength = 10_000
    /// The largest image side in pixels (as `GenerationRequest.validate`).
    public static let maximumImageSide = 4096

    /// `value` lies in `range`.
    public static func integer<T: BinaryInteger>(_ value: T, _ flag: String, in range: ClosedRange<Int>) throws {
        guard let v = Int(exactly: value), range.contains(v) else {
            throw ArgumentError(flag, "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// `value` is a finite number in `range` (NaN and infinities are refused).
    public static func number<T: BinaryFloatingPoint>(_ value: T, _ flag: String, in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude) throws {
        guard value.isFinite else { throw ArgumentError(flag, "\(value) is not a finite number") }
        guard range.contains(Double(value)) else {
            throw ArgumentError(flag, "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// A compute thread count: 1...`maximumThreads`.
    public static func threads(_ value: Int?, _ flag: String = "--threads") throws {
        if let value { try integer(value, flag, in: 1...maximumThreads) }
    }

    /// An image side in pixels: a positive multiple of 8, at most `maximumImageSide`.
    public static func imageSide(_ value: Int?, _ flag: String) throws {
        guard let value else { return }
        guard value > 0, value % 8 == 0, value <= maximumImageSide else {
            throw ArgumentError(flag, "\(value) must be a positive multiple of 8, at most \(maximumImageSide)")
        }
    }

    /// A comma-separated list of integers, each in `range`: no empty items, at most `maximumListLength`
    /// entries, each value at most once when `distinct`.
    public static func integers(_ text: String, _ flag: String, in range: ClosedRange<Int>, distinct: Bool = false) throws -> [Int] {
        let values: [Int] = try list(text, flag) { (item: String) -> Int? in
            guard let v = Int(item), range.contains(v) else { return nil }
            return v
        } describe: { "an integer in \(range.lowerBound)...\(range.upperBound)" }
        var seen: Set<Int> = []
        if distinct, let twice = values.first(where: { !seen.insert($0).inserted }) {
            throw ArgumentError(flag, "lists \(twice) twice")
        }
        return values
    }

    /// A comma-separated list of seeds (non-negative integers below 2^64): no empty items, at most
    /// `maximumListLength` entries.
    public static func seeds(_ text: String, _ flag: String = "--seeds") throws -> [UInt64] {
        try list(text, flag) { UInt64($0) } describe: { "a non-negative integer below 2^64" }
    }

    static func list<T>(_ text: String, _ flag: String, _ read: (String) -> T?, describe: () -> String) throws -> [T] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        guard items.count <= maximumListLength else {
            throw ArgumentError(flag, "lists \(items.count) values; at most \(maximumListLength)")
        }
        return try items.map { item in
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else {
                throw ArgumentError(flag, text.trimmingCharacters(in: .whitespaces).isEmpty ? "the list is empty" : "has an empty item in '\(excerpt(text))'")
            }
            guard let value = read(trimmed) else { throw ArgumentError(flag, "'\(excerpt(trimmed))' is not \(describe())") }
            return value
        }
    }

    static func excerpt(_ text: String) -> String {
        text.count <= 60 ? text : String(text.prefix(60)) + "..."
    }
}
