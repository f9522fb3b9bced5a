import Foundation

/// A wall-clock profile by operation kind (convolution, linear, attention, norms), filled by the layers made
/// with it (`ComputeSettings.profiler`). Layers made without one measure nothing (one branch per call). The
/// totals are guarded by a lock: concurrent generations on one model add to the same profile.
public final class Profiler: @unchecked Sendable {
    /// Operation kinds the compute core reports.
    public enum Kind: String, CaseIterable, Sendable {
        case convolution, linear, attention, groupNorm = "group norm", layerNorm = "layer norm"
    }

    /// Whether `measure(_:shape:_:)` also adds the time to its shape's own total (`shapeReport`).
    public let byShape: Bool
    private let lock = NSLock()
    private var totals: [Kind: (seconds: Double, calls: Int)] = [:]
    private var shapeTotals: [String: (seconds: Double, calls: Int)] = [:]

    /// An empty profile; with `byShape`, each shape's time is kept too.
    public init(byShape: Bool = false) {
        self.byShape = byShape
    }

    /// Runs `body`, adding its wall time to `kind`.
    public func measure<T>(_ kind: Kind, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { add(kind.rawValue, seconds: Self.seconds(since: start), kind: kind) }
        return try body()
    }

    /// Like `measure(_:_:)`; with `byShape`, the time is also added to "kind: shape" (the text is only made then).
    public func measure<T>(_ kind: Kind, shape: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { add(byShape ? kind.rawValue + ": " + shape() : nil, seconds: Self.seconds(since: start), kind: kind) }
        return try body()
    }

    /// Clears the totals.
    public func reset() {
        lock.lock(); defer { lock.unlock() }
        totals = [:]; shapeTotals = [:]
    }

    /// (kind, seconds, calls), largest first.
    public func report() -> [(Kind, Double, Int)] {
        lock.lock(); defer { lock.unlock() }
        return totals.map { ($0.key, $0.value.seconds, $0.value.calls) }.sorted { $0.1 > $1.1 }
    }

    /// ("kind: shape", seconds, calls) of the shapes measured with `byShape`, largest first.
    public func shapeReport() -> [(String, Double, Int)] {
        lock.lock(); defer { lock.unlock() }
        return shapeTotals.map { ($0.key, $0.value.seconds, $0.value.calls) }.sorted { $0.1 > $1.1 }
    }

    private func add(_ shapeKey: String?, seconds: Double, kind: Kind) {
        lock.lock(); defer { lock.unlock() }
        totals[kind, default: (0, 0)].seconds += seconds
        totals[kind, default: (0, 0)].calls += 1
        if let shapeKey {
            shapeTotals[shapeKey, default: (0, 0)].seconds += seconds
            shapeTotals[shapeKey, default: (0, 0)].calls += 1
        }
    }

    private static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

extension Optional where Wrapped == Profiler {
    /// Runs `body`, measured when there is a profiler.
    @inline(__always)
    public func measure<T>(_ kind: Profiler.Kind, _ body: () throws -> T) rethrows -> T {
        guard let profiler = self else { return try body() }
        return try profiler.measure(kind, body)
    }

    /// Runs `body`, measured (with its shape text) when there is a profiler.
    @inline(__always)
    public func measure<T>(_ kind: Profiler.Kind, shape: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        guard let profiler = self else { return try body() }
        return try profiler.measure(kind, shape: shape(), body)
    }
}
