import Foundation

/// An opt-in wall-clock profile by operation kind (convolution, GEMM, attention, norms, ...).
/// When disabled, `measure` costs one branch. The totals are guarded by a lock (concurrent generations add to
/// the same totals).
public enum Profiler {
    /// Operation kinds the compute core reports.
    public enum Kind: String, CaseIterable, Sendable {
        case convolution, linear, attention, groupNorm = "group norm", layerNorm = "layer norm"
        case elementwise, layout = "layout (concat, resize, gather)"
    }

    nonisolated(unsafe) public static var enabled = false
    /// Whether `measure(_:shape:_:)` also adds the time to its shape's own total (`shapeReport`).
    nonisolated(unsafe) public static var byShape = false
    nonisolated(unsafe) private static var totals: [Kind: Double] = [:]
    nonisolated(unsafe) private static var counts: [Kind: Int] = [:]
    nonisolated(unsafe) private static var shapeTotals: [String: (seconds: Double, calls: Int)] = [:]
    private static let lock = NSLock()

    /// Runs `body`, adding its wall time to `kind` when profiling is enabled.
    @inline(__always)
    public static func measure<T>(_ kind: Kind, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            lock.lock(); defer { lock.unlock() }
            totals[kind, default: 0] += seconds
            counts[kind, default: 0] += 1
        }
        return try body()
    }

    /// Like `measure(_:_:)`; with `byShape` on, the time is also added to "kind: shape" (the shape text is only
    /// made then).
    @inline(__always)
    public static func measure<T>(_ kind: Kind, shape: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        guard enabled && byShape else { return try measure(kind, body) }
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let key = kind.rawValue + ": " + shape()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            lock.lock(); defer { lock.unlock() }
            shapeTotals[key, default: (0, 0)].seconds += seconds
            shapeTotals[key, default: (0, 0)].calls += 1
        }
        return try measure(kind, body)
    }

    /// Clears the totals.
    public static func reset() {
        lock.lock(); defer { lock.unlock() }
        totals = [:]; counts = [:]; shapeTotals = [:]
    }

    /// ("kind: shape", seconds, calls) of the shapes measured with `byShape` on, largest first.
    public static func shapeReport() -> [(String, Double, Int)] {
        lock.lock(); defer { lock.unlock() }
        return shapeTotals.map { ($0.key, $0.value.seconds, $0.value.calls) }.sorted { $0.1 > $1.1 }
    }

    /// (kind, seconds, calls), largest first.
    public static func report() -> [(Kind, Double, Int)] {
        lock.lock(); defer { lock.unlock() }
        return totals.map { ($0.key, $0.value, counts[$0.key] ?? 0) }.sorted { $0.1 > $1.1 }
    }
}
