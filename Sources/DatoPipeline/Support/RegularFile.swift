import Foundation

/// Reads whole regular files with a size bound: FIFOs, devices, sockets and directories are refused before
/// they are opened for reading, so none blocks or is read without end.
public enum RegularFile {
    /// The bytes of the regular file at `path`, if it holds at most `maxBytes`; `describing` names what the
    /// file should be in the size error ("PNG").
    public static func contents(_ path: String, maxBytes: Int, describing kind: String) throws -> [UInt8] {
        func fail(_ m: String) -> PNGWriter.Error { PNGWriter.Error(description: "\(path): \(m)") }
        var st = stat()
        guard stat(path, &st) == 0 else { throw fail("cannot read (\(String(cString: strerror(errno))))") }
        guard st.st_mode & S_IFMT == S_IFREG else { throw fail("not a regular file") }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw fail("cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { throw fail("not a regular file") }
        guard let size = Int(exactly: st.st_size), size <= maxBytes else {
            throw fail("\(st.st_size) bytes is larger than any \(kind) this reads (at most \(maxBytes >> 20) MiB)")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return read(fd, base + done, size - done)
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw fail(n == 0 ? "the file shrank while it was read" : "read error (\(String(cString: strerror(errno))))") }
            done += n
        }
        return bytes
    }
}
