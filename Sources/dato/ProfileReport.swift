import DatoCore

/// What `--profile` and `--profile-shapes` print after a benchmark's timed calls.
struct ProfileReport {
    /// Print the time per layer kind (`--profile`; the rest of the timed seconds as "other").
    let kinds: Bool
    /// Print the time per layer shape (`--profile-shapes`), per timed call.
    let shapes: Bool
    /// How many timed calls the profiler saw.
    let calls: Int

    func print(_ profiler: Profiler, timed: Double) {
        if kinds { printKinds(profiler.report(), timed: timed) }
        if shapes { printShapes(profiler.shapeReport()) }
    }

    private func printKinds(_ kinds: [(Profiler.Kind, Double, Int)], timed: Double) {
        let measured = kinds.reduce(0) { $0 + $1.1 }
        Swift.print("time by layer kind (all timed calls):")
        func line(_ name: String, _ seconds: Double, _ count: String) {
            Swift.print("  " + name.padding(toLength: 32, withPad: " ", startingAt: 0)
                        + String(format: " %8.3f s  %5.1f%%  ", seconds, 100 * seconds / max(timed, 1e-9)) + count)
        }
        for (kind, seconds, count) in kinds { line(kind.rawValue, seconds, String(format: "%6d calls", count)) }
        line("other (elementwise, layout, pruning)", max(timed - measured, 0), "")
    }

    private func printShapes(_ rows: [(String, Double, Int)]) {
        Swift.print("time by operation shape (per call, averaged over the timed calls):")
        for (shape, seconds, count) in rows {
            let name = shape.padding(toLength: 56, withPad: " ", startingAt: 0)
            Swift.print("  " + name + String(format: " %8.1f ms  %4d calls", 1000 * seconds / Double(calls), count / calls))
        }
    }
}
