import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` with a FIFO at `path`. Opening a FIFO for reading waits for a writer; if `body` is still
/// running after `seconds`, a writer opens and closes the FIFO so that a blocked open returns (and reads
/// end of file), and the result says so. A loader that waits on a FIFO thus fails its test instead of
/// hanging the test run.
public func withFIFO<T>(at path: String, unblockAfter seconds: Double = 3,
                        _ body: () throws -> T) throws -> (result: Result<T, Error>, blocked: Bool) {
    guard mkfifo(path, 0o600) == 0 else { throw NSError(domain: "mkfifo", code: Int(errno)) }
    let state = WatchdogState()
    let finished = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        let deadline = Date().addingTimeInterval(seconds)
        while !state.isDone {
            if Date() >= deadline {
                let fd = open(path, O_WRONLY | O_NONBLOCK)   // fails (ENXIO) until a reader waits
                if fd >= 0 { close(fd); state.markBlocked() }
            }
            usleep(20_000)
        }
        finished.signal()
    }
    let result = Result { try body() }
    state.finish()
    finished.wait()
    return (result, state.wasBlocked)
}

private final class WatchdogState: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false, blocked = false
    var isDone: Bool { lock.withLock { done } }
    var wasBlocked: Bool { lock.withLock { blocked } }
    func finish() { lock.withLock { done = true } }
    func markBlocked() { lock.withLock { blocked = true } }
}
