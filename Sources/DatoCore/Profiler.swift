import Foundation

/// An opt-in wall-clock profile by operation kind (convolution, GEMM, attention, norms, ...).
/// When disabled, `measure` costs one branch.
public enum Profiler {
    /// Operation kinds the compute core reports.
    public enum Kind: String, CaseIterable, Sendable {
        case convolution, linear, attention, groupNorm = "group norm", layerNorm = "layer norm"
        case elementwise, layout = "layout (concat, resize, gather)"
    }

    nonisolated(unsafe) public static var enabled = false
    nonisolated(unsafe) private static var totals: [Kind: Double] = [:]
    nonisolated(unsafe) private static var counts: [Kind: Int] = [:]

    /// Runs `body`, adding its wall time to `kind` when profiling is enabled.
    @inline(__always)
    public static func measure<T>(_ kind: Kind, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            totals[kind, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            counts[kind, default: 0] += 1
        }
        return try body()
    }

    /// Clears the totals.
    public static func reset() { totals = [:]; counts = [:] }

    /// (kind, seconds, calls), largest first.
    public static func report() -> [(Kind, Double, Int)] {
        totals.map { ($0.key, $0.value, counts[$0.key] ?? 0) }.sorted { $0.1 > $1.1 }
    }
}
