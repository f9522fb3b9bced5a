import Foundation

/// dato stopped by SIGINT or SIGTERM while an external scorer ran; the scorer's process group has been
/// ended and its files removed. The command exits with 128 + the signal (130 for Ctrl-C, 143 for SIGTERM).
public struct SearchInterrupted: Error, CustomStringConvertible {
    public let signal: Int32
    public var exitCode: Int32 { 128 + signal }
    public var description: String { "interrupted by \(signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"); the scorer was stopped" }
}

/// The write end of the self-pipe the signal handler writes to (set before any handler is installed).
private var interruptPipeWrite: Int32 = -1

/// The signal handler: only an async-signal-safe `write` of the signal number.
private func noteInterrupt(_ signal: Int32) {
    var byte = UInt8(truncatingIfNeeded: signal)
    _ = write(interruptPipeWrite, &byte, 1)
}

/// While a scorer runs, SIGINT and SIGTERM are caught (unless dato was started with them ignored) and turned
/// into bytes on a pipe that the scorer's I/O loop polls, so the loop can end the scorer's process group and
/// remove its files before dato exits. `stop` restores the previous handlers; a signal caught and not yet
/// acted on is then raised again, with its previous disposition.
final class InterruptWatch {
    private static let lock = NSLock()
    private static var pipeEnds: (read: Int32, write: Int32)?
    static let signals = [SIGINT, SIGTERM]

    /// The pipe's read end, readable once a signal was caught.
    let fd: Int32
    private var previous: [(Int32, sigaction)] = []
    private var caught: Int32?
    /// Set when `check` threw the caught signal, so that `stop` does not raise it again.
    private var reported = false

    private init(fd: Int32) { self.fd = fd }

    /// Installs the handlers (one watch at a time: others wait).
    static func start() throws -> InterruptWatch {
        lock.lock()
        if pipeEnds == nil {
            var ends: [Int32] = [0, 0]
            guard ChildProcess.makePipe(&ends, nonBlocking: true) else {
                lock.unlock()
                throw SearchError("cannot run the scorer: no pipe (\(String(cString: strerror(errno))))")
            }
            pipeEnds = (ends[0], ends[1])
            interruptPipeWrite = ends[1]
        }
        let watch = InterruptWatch(fd: pipeEnds?.read ?? -1)
        watch.drain()
        watch.caught = nil
        for s in signals {
            var old = sigaction()
            guard sigaction(s, nil, &old) == 0, !isIgnored(old) else { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = noteInterrupt
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            if sigaction(s, &action, nil) == 0 { watch.previous.append((s, old)) }
        }
        return watch
    }

    static func isIgnored(_ a: sigaction) -> Bool {
        guard let handler = a.__sigaction_handler.sa_handler else { return false }
        return unsafeBitCast(handler, to: Int.self) == 1   // SIG_IGN
    }

    /// Reads what the handler wrote; remembers the first signal.
    private func drain() {
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1 { if caught == nil { caught = Int32(byte) } }
    }

    /// Throws `SearchInterrupted` once a signal was caught.
    func check() throws {
        drain()
        if let caught {
            reported = true
            throw SearchInterrupted(signal: caught)
        }
    }

    /// Restores the previous handlers; a signal caught but not acted on is raised again.
    func stop() {
        for (s, old) in previous.reversed() {
            var o = old
            sigaction(s, &o, nil)
        }
        drain()
        let pending = caught
        previous = []
        Self.lock.unlock()
        if let pending, !reported { raise(pending) }
    }
}
