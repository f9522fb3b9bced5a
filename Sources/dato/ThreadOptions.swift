import ArgumentParser
import DatoCore

/// `-t/--threads` (shared by every command that computes).
struct ThreadOptions: ParsableArguments {
    @Option(name: [.short, .customLong("threads")], help: "Compute threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        try checkArguments { try ArgumentCheck.threads(threads, "-t/--threads") }
    }

    /// Sets the compute thread count when one was given.
    func apply() {
        if let threads { Parallel.setThreadCount(threads) }
    }
}
