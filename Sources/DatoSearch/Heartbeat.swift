import Foundation

/// Runs `beat` every `interval` seconds on its own thread until `stop` (which waits for a beat in progress).
/// A failing beat is retried at the next interval: a worker that lost its server finds out when it stores
/// its result.
final class Heartbeat: @unchecked Sendable {
    private let stopped = DispatchSemaphore(value: 0)
    private let ended = DispatchSemaphore(value: 0)

    init(every interval: Double, beat: @escaping () throws -> Void) {
        let thread = Thread { [stopped, ended] in
            while stopped.wait(timeout: .now() + interval) == .timedOut { try? beat() }
            ended.signal()
        }
        thread.name = "dato-heartbeat"
        thread.start()
    }

    /// Ends the beats; returns once the thread has ended.
    func stop() {
        stopped.signal()
        ended.wait()
    }
}
