import Foundation

/// `/bin/sh -c COMMAND` started with `posix_spawn` as the leader of a new process group, its standard input
/// and output on non-blocking pipes (standard error is dato's). SIGINT, SIGTERM and SIGPIPE start with their
/// default actions and no signal is blocked, whatever dato's own settings.
final class ChildProcess {
    let pid: pid_t
    private(set) var stdin: Int32
    private(set) var stdout: Int32
    /// The shell's status once reaped.
    private var status: Status?
    /// Set when waitpid says the shell is not (any more) our child, e.g. reaped by someone else.
    private var lost = false
    private var finished: Bool { status != nil || lost }

    /// How the shell ended: its exit status, or the signal that killed it.
    struct Status { let exited: Bool; let code: Int32 }

    private init(pid: pid_t, stdin: Int32, stdout: Int32) {
        self.pid = pid; self.stdin = stdin; self.stdout = stdout
    }

    static func spawn(command: String) throws -> ChildProcess {
        func failure(_ what: String, _ code: Int32) -> SearchError {
            SearchError("cannot start the scorer command '\(command)': \(what) (\(String(cString: strerror(code))))")
        }
        var input: [Int32] = [0, 0], output: [Int32] = [0, 0]
        guard makePipe(&input) else { throw failure("no pipe", errno) }
        guard makePipe(&output) else {
            close(input[0]); close(input[1])
            throw failure("no pipe", errno)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t(), none = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGHUP] { sigaddset(&defaults, s) }
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(command), nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, environ)
        close(input[0]); close(output[1])
        guard rc == 0 else {
            close(input[1]); close(output[0])
            throw failure("posix_spawn failed", rc)
        }
        for fd in [input[1], output[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        return ChildProcess(pid: pid, stdin: input[1], stdout: output[0])
    }

    /// `pipe` with both ends close-on-exec (and non-blocking if asked).
    static func makePipe(_ ends: inout [Int32], nonBlocking: Bool = false) -> Bool {
        guard pipe(&ends) == 0 else { return false }
        for fd in ends {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            if nonBlocking { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        }
        return true
    }

    /// Closes the scorer's standard input (it sees end of file).
    func closeStdin() {
        if stdin >= 0 { close(stdin); stdin = -1 }
    }

    /// Waits for the shell to exit until `deadline` (monotonic nanoseconds); nil when the time ran out.
    func wait(until deadline: UInt64, interrupts: InterruptWatch) throws -> Status? {
        while true {
            reap(blocking: false)
            if let status { return status }
            if lost { throw SearchError("the scorer's exit status was lost (is SIGCHLD ignored?)") }
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < deadline else { return nil }
            var fds = [pollfd(fd: interrupts.fd, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 1, Int32(min((deadline - now) / 1_000_000 + 1, 20)))
            try interrupts.check()
        }
    }

    /// Records the shell's status once it exited (`blocking`: waits for it).
    private func reap(blocking: Bool) {
        guard !finished else { return }
        var raw: Int32 = 0
        while true {
            let r = waitpid(pid, &raw, blocking ? 0 : WNOHANG)
            if r == pid { break }
            if r < 0 && errno == EINTR { continue }
            if r < 0 { lost = true }
            return
        }
        let signal = raw & 0x7F
        status = signal == 0 ? Status(exited: true, code: (raw >> 8) & 0xFF) : Status(exited: false, code: signal)
    }

    /// Ends the whole process group (SIGTERM, then SIGKILL after `grace` seconds if any member is left),
    /// reaps the shell and closes the pipes. Safe to call when the scorer has already exited.
    func end(grace: Double) {
        closeStdin()
        if stdout >= 0 { close(stdout); stdout = -1 }
        reap(blocking: false)
        if !finished || groupAlive() {
            kill(-pid, SIGTERM)
            let until = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, min(grace, 60)) * 1e9)
            while DispatchTime.now().uptimeNanoseconds < until {
                reap(blocking: false)
                if finished && !groupAlive() { break }
                usleep(10_000)
            }
            if !finished || groupAlive() { kill(-pid, SIGKILL) }
        }
        reap(blocking: true)
    }

    /// Whether a live (not zombie) process of the group is left. The group's id is the shell's pid, which
    /// Linux does not reuse while the group has members.
    private func groupAlive() -> Bool {
        guard kill(-pid, 0) == 0 else { return false }
        return ProcessGroup.liveMembers(pid) > 0
    }
}
