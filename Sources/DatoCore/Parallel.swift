import CDatoDNNL

/// Thread-level parallelism for the Swift kernels.
///
/// Work runs on the OpenMP pool that oneDNN itself uses, so convolutions, GEMMs and Swift kernels
/// never compete for the two cores with a second pool.
public enum Parallel {
    /// Number of compute threads.
    public static var threadCount: Int { Int(dato_max_threads()) }

    /// Sets the number of compute threads used by oneDNN and the Swift kernels.
    public static func setThreadCount(_ n: Int) { dato_set_threads(n) }

    private struct Context {
        let count: Int
        let body: (Range<Int>) -> Void
    }

    /// Splits `0..<count` into one contiguous range per thread and runs `body` on each.
    /// Runs inline when `count` is below `minimumPerThread * 2`.
    public static func chunks(_ count: Int, minimumPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        if count < 2 * max(minimumPerThread, 1) || threadCount <= 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { escaping in
            var ctx = Context(count: count, body: escaping)
            withUnsafeMutablePointer(to: &ctx) { p in
                dato_parallel({ raw, worker, workers in
                    guard let raw else { return }
                    let c = raw.assumingMemoryBound(to: Context.self).pointee
                    let lo = c.count * worker / workers, hi = c.count * (worker + 1) / workers
                    if lo < hi { c.body(lo..<hi) }
                }, p)
            }
        }
    }

    /// Runs `body(worker, workers)` once on every thread; for kernels that own per-thread scratch.
    public static func workers(_ body: (Int, Int) -> Void) {
        if threadCount <= 1 { body(0, 1); return }
        withoutActuallyEscaping(body) { escaping in
            var wctx = WorkerContext(body: escaping)
            withUnsafeMutablePointer(to: &wctx) { p in
                dato_parallel({ raw, worker, workers in
                    guard let raw else { return }
                    raw.assumingMemoryBound(to: WorkerContext.self).pointee.body(worker, workers)
                }, p)
            }
        }
    }

    /// Runs `body(item, worker)` for every item of `0..<count`, each taken by whichever worker is free next: for
    /// items of uneven cost, or when one core runs slower than the other.
    public static func items(_ count: Int, _ body: (Int, Int) -> Void) {
        if count <= 0 { return }
        var next = 0
        withUnsafeMutablePointer(to: &next) { counter in
            workers { worker, _ in
                while true {
                    let item = dato_next_item(counter)
                    if item >= count { break }
                    body(item, worker)
                }
            }
        }
    }

    private struct WorkerContext {
        let body: (Int, Int) -> Void
    }
}
