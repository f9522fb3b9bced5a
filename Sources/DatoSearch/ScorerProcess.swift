import Foundation

/// One run of an external scorer: `/bin/sh -c COMMAND` in a process group of its own, fed `input` on standard
/// input, its standard output read up to a byte limit, all within a time limit. On every way out (success,
/// an error, a timeout, too much output, SIGINT or SIGTERM sent to dato) the whole group is ended (SIGTERM,
/// then SIGKILL after a grace period) and the shell reaped, so no scorer process outlives the call.
struct ScorerProcess {
    let command: String
    /// Seconds the scorer may run (reading its input, working, printing).
    var timeout: Double
    /// Bytes of standard output read at most; a scorer printing more is stopped and refused.
    var outputLimit = 1 << 20
    /// Seconds between SIGTERM and SIGKILL when the group is ended.
    var grace = 2.0

    /// The scorer's standard output, after it exited with status 0.
    func run(input: [UInt8]) throws -> [UInt8] {
        let seconds = timeout.isFinite ? min(max(timeout, 0), 1e9) : 1e9
        let end = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        let interrupts = try InterruptWatch.start()
        defer { interrupts.stop() }
        let output: [UInt8], status: ChildProcess.Status
        do {
            let child = try ChildProcess.spawn(command: command)
            defer { child.end(grace: grace) }
            output = try exchange(child, input: input, until: end, interrupts: interrupts)
            guard let s = try child.wait(until: end, interrupts: interrupts) else { throw timedOut() }
            status = s
        }
        try interrupts.check()
        guard status.exited && status.code == 0 else {
            throw SearchError("the scorer command '\(command)' \(status.exited ? "exited with status \(status.code)" : "was killed by signal \(status.code)")")
        }
        return output
    }

    /// Writes the input while reading the output, until the scorer closes its standard output.
    private func exchange(_ child: ChildProcess, input: [UInt8], until end: UInt64, interrupts: InterruptWatch) throws -> [UInt8] {
        var output: [UInt8] = [], written = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var stdin: Int32? = child.stdin, stdout: Int32? = child.stdout
        if input.isEmpty { child.closeStdin(); stdin = nil }
        while let out = stdout {
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < end else { throw timedOut() }
            var fds = [pollfd(fd: out, events: Int16(POLLIN), revents: 0), pollfd(fd: interrupts.fd, events: Int16(POLLIN), revents: 0)]
            if let fd = stdin { fds.append(pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)) }
            let wait = Int32(min((end - now) / 1_000_000 + 1, 1000))
            guard poll(&fds, nfds_t(fds.count), wait) >= 0 || errno == EINTR else {
                throw SearchError("the scorer command '\(command)': poll failed (\(String(cString: strerror(errno))))")
            }
            try interrupts.check()
            if fds.count > 2, fds[2].revents != 0, let fd = stdin {
                let n = input.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + written }, input.count - written) }
                if n > 0 { written += n }
                // Written out, or the scorer closed its input (EPIPE): no more to write.
                if written == input.count || (n < 0 && errno != EAGAIN && errno != EINTR) { child.closeStdin(); stdin = nil }
            }
            if fds[0].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(out, $0.baseAddress, $0.count) }
                if n == 0 { stdout = nil; continue }
                if n < 0 {
                    if errno == EAGAIN || errno == EINTR { continue }
                    throw SearchError("the scorer command '\(command)': reading its output failed (\(String(cString: strerror(errno))))")
                }
                guard output.count + n <= outputLimit else {
                    throw SearchError("the scorer command '\(command)' printed more than \(outputLimit) bytes; it must print one score per image")
                }
                output += buffer[0..<n]
            }
        }
        return output
    }

    private func timedOut() -> SearchError {
        SearchError("the scorer command '\(command)' did not finish within \(timeout) s (--scorer-timeout); it was stopped")
    }
}
