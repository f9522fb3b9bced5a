import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file given as input could not be used: missing, unreadable, not a regular file, or too large.
public struct RegularFileError: Error, CustomStringConvertible, Equatable {
    /// The path as given.
    public let path: String
    /// What is wrong, without the path (callers put it into their own error types).
    public let reason: String

    public init(path: String, reason: String) { self.path = path; self.reason = reason }

    public var description: String { "\(path): \(reason)" }
}

/// Opens and reads input files (weights, configs) that must be regular files.
///
/// The open never blocks: a FIFO, a device node, a socket or a directory given where a file is expected
/// is refused with an error naming the path instead of stalling in `open()` or reading without end.
public enum RegularFile {
    /// Opens `path` read-only and close-on-exec, and checks that it is a regular file.
    /// Returns the descriptor, in blocking mode, which the caller closes, and the file's size in bytes.
    public static func open(_ path: String) throws -> (descriptor: Int32, size: Int) {
        let fd = posixOpen(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw RegularFileError(path: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        do {
            let size = try regularSize(fd, path: path)
            let flags = fcntl(fd, F_GETFL)
            if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
            return (fd, size)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Reads all of `path`, refusing a file larger than `limit` bytes (the limit is named in the error).
    public static func read(_ path: String, limit: Int) throws -> Data {
        let (fd, size) = try open(path)
        defer { close(fd) }
        guard size <= limit else {
            throw RegularFileError(path: path, reason: "the file is \(size) bytes, more than the \(limit)-byte limit for this kind of file")
        }
        var data = Data(count: size)
        var done = 0
        while done < size {
            let n = data.withUnsafeMutableBytes { raw in posixRead(fd, raw.baseAddress.map { $0 + done }, size - done) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw RegularFileError(path: path, reason: "cannot read: \(String(cString: strerror(errno)))") }
            if n == 0 { break }   // the file shrank while being read: keep what is there
            done += n
        }
        if done < size { data.count = done }
        return data
    }

    /// Maps all of `path` read-only; the mapping lives as long as the returned `Data`.
    public static func map(_ path: String) throws -> Data {
        let (fd, size) = try open(path)
        defer { close(fd) }
        guard size > 0 else { return Data() }
        guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            throw RegularFileError(path: path, reason: "cannot map: \(String(cString: strerror(errno)))")
        }
        return Data(bytesNoCopy: m, count: size, deallocator: .custom { p, n in munmap(p, n) })
    }

    /// The size of an open file, or an error if it is not a regular file.
    static func regularSize(_ fd: Int32, path: String) throws -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw RegularFileError(path: path, reason: "cannot stat: \(String(cString: strerror(errno)))")
        }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            throw RegularFileError(path: path, reason: "not a regular file (it is \(kindName(type))); give the path of a file")
        }
        guard let size = Int(exactly: st.st_size), size >= 0 else {
            throw RegularFileError(path: path, reason: "the file reports an invalid size \(st.st_size)")
        }
        return size
    }

    static func kindName(_ type: mode_t) -> String {
        switch type {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "a special file"
        }
    }
}

// The C functions under other names: inside `RegularFile` its own `open` and `read` would shadow them.
private func posixOpen(_ path: String, _ flags: Int32) -> Int32 { open(path, flags) }
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(fd, buffer, count) }
