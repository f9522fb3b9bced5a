import Foundation

/// Runs generation jobs in arrival order on threads of its own (compute never blocks the server's event loops):
/// `parallel` at a time (1 by default; more share one loaded, reentrant pipeline). At most `waiting` jobs wait
/// behind the running ones; more are refused with `QueueFull`, which the API answers with 503 and Retry-After.
final class JobQueue: @unchecked Sendable {
    /// The job was dropped before it ran: its client closed the connection.
    struct Dropped: Error {}

    /// The queue is full.
    struct QueueFull: Error {
        /// Seconds after which a retry is likely to be admitted.
        let retryAfter: Int
    }

    private let lock = NSLock()
    /// Starts jobs one after another in arrival order, each when a slot is free.
    private let dispatcher = DispatchQueue(label: "dato.serve.dispatch")
    private let workers = DispatchQueue(label: "dato.serve.jobs", qos: .userInitiated, attributes: .concurrent)
    private let slots: DispatchSemaphore
    private let parallel: Int
    private let capacity: Int
    private var admitted = 0
    private var running: [JobProgress] = []
    /// Wall time of the last finished job, for Retry-After.
    private var lastSeconds = 10.0

    init(waiting: Int, parallel: Int = 1) {
        self.parallel = max(parallel, 1)
        slots = DispatchSemaphore(value: self.parallel)
        capacity = max(waiting, 0) + self.parallel
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// Runs `work` when the jobs before it have started and a slot is free, handing it the progress the API
    /// reports; a job whose client has gone by then is dropped without running (`Dropped`).
    func run<T: Sendable>(images: Int, progress: JobProgress,
                          _ work: @escaping @Sendable (JobProgress) throws -> T) async throws -> T {
        let full: Int? = locked {
            guard admitted < capacity else {
                return max(1, min(600, Int((lastSeconds * Double(admitted) / Double(parallel)).rounded(.up))))
            }
            admitted += 1
            return nil
        }
        if let full { throw QueueFull(retryAfter: full) }
        return try await withCheckedThrowingContinuation { continuation in
            dispatcher.async { [self] in
                slots.wait()
                workers.async { [self] in
                    defer { slots.signal() }
                    guard !progress.isClientGone else {
                        locked { admitted -= 1 }
                        continuation.resume(throwing: Dropped())
                        return
                    }
                    progress.start(images: images)
                    locked { running.append(progress) }
                    let result = Result { try work(progress) }
                    let seconds = Date().timeIntervalSince(progress.started)
                    locked { running.removeAll { $0 === progress }; admitted -= 1; lastSeconds = seconds }
                    continuation.resume(with: result)
                }
            }
        }
    }

    /// The running jobs' progress (earliest first; empty when idle) and the number of jobs waiting.
    var status: (running: [JobProgress], waiting: Int) {
        locked { (running, max(admitted - running.count, 0)) }
    }
}
