import Foundation

/// Runs generation jobs one at a time, in arrival order, on a thread of its own (compute never blocks the
/// server's event loops). At most `waiting` jobs wait behind the running one; more are refused with
/// `QueueFull`, which the API answers with 503 and Retry-After.
final class JobQueue: @unchecked Sendable {
    /// The job was dropped before it ran: its client closed the connection.
    struct Dropped: Error {}

    /// The queue is full.
    struct QueueFull: Error {
        /// Seconds after which a retry is likely to be admitted.
        let retryAfter: Int
    }

    private let lock = NSLock()
    private let worker = DispatchQueue(label: "dato.serve.jobs", qos: .userInitiated)
    private let capacity: Int
    private var admitted = 0
    private var current: JobProgress?
    /// Wall time of the last finished job, for Retry-After.
    private var lastSeconds = 10.0

    init(waiting: Int) { capacity = max(waiting, 0) + 1 }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// Runs `work` when the jobs before it are done, handing it the progress the API reports; a job whose
    /// client has gone by then is dropped without running (`Dropped`).
    func run<T: Sendable>(images: Int, progress: JobProgress,
                          _ work: @escaping @Sendable (JobProgress) throws -> T) async throws -> T {
        let full: Int? = locked {
            guard admitted < capacity else { return max(1, min(600, Int((lastSeconds * Double(admitted)).rounded(.up)))) }
            admitted += 1
            return nil
        }
        if let full { throw QueueFull(retryAfter: full) }
        return try await withCheckedThrowingContinuation { continuation in
            worker.async { [self] in
                guard !progress.isClientGone else {
                    locked { admitted -= 1 }
                    continuation.resume(throwing: Dropped())
                    return
                }
                progress.start(images: images)
                locked { current = progress }
                let result = Result { try work(progress) }
                let seconds = Date().timeIntervalSince(progress.started)
                locked { current = nil; admitted -= 1; lastSeconds = seconds }
                continuation.resume(with: result)
            }
        }
    }

    /// The running job's progress (nil when idle) and the number of jobs waiting behind it.
    var status: (running: JobProgress?, waiting: Int) {
        locked { (current, max(admitted - (current == nil ? 0 : 1), 0)) }
    }
}
