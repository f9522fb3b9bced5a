import Foundation

/// Members of a process group as Linux's /proc lists them.
enum ProcessGroup {
    /// Processes of group `group` that are not zombies (a zombie is dead, only not yet reaped by its
    /// parent). Where /proc cannot be read, every member reported by `kill(-group, 0)` counts as live.
    static func liveMembers(_ group: pid_t) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else {
            return kill(-group, 0) == 0 ? 1 : 0
        }
        var count = 0
        for name in names where name.first?.isNumber == true {
            // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
            guard let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, let pgrp = pid_t(fields[2]), pgrp == group else { continue }
            if fields[0] != "Z" { count += 1 }
        }
        return count
    }
}
