import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plan saved as a JSON file: only regular files of at most `AccelerationPlan.maximumTextBytes` are read
/// (a FIFO, a device or a directory is refused without blocking or reading it).
enum PlanFile {
    /// Whether `text` names something in the file system (a plan argument that is no preset might be a path).
    static func exists(_ text: Substring) -> Bool {
        !text.isEmpty && !text.contains("\0") && text.utf8.count <= 4096 && FileManager.default.fileExists(atPath: String(text))
    }

    /// The plan in the JSON file at `path`.
    static func load(_ path: String) throws -> AccelerationPlan {
        try PlanSpec.decodeJSON(try contents(path, limit: AccelerationPlan.maximumTextBytes), source: "plan file '\(PlanError.excerpt(path, limit: 200))'")
    }

    /// The bytes of a regular file of at most `limit` bytes.
    static func contents(_ path: String, limit: Int) throws -> Data {
        let name = "plan file '\(PlanError.excerpt(path, limit: 200))'"
        guard !path.contains("\0") else { throw PlanError("\(name) has a NUL character in its name") }
        var info = stat()
        guard stat(path, &info) == 0 else { throw PlanError("cannot read \(name): \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw PlanError("\(name) is not a regular file") }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw PlanError("cannot open \(name): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { throw PlanError("\(name) is not a regular file") }
        guard info.st_size <= limit else { throw PlanError("\(name) is \(info.st_size) bytes; a plan file has at most \(limit)") }
        var data = Data(count: limit + 1)
        var filled = 0
        while filled <= limit {
            let n = data.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return read(fd, base + filled, limit + 1 - filled)
            }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw PlanError("cannot read \(name): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            filled += n
        }
        guard filled <= limit else { throw PlanError("\(name) grew past \(limit) bytes while being read") }
        return data.prefix(filled)
    }
}
