import Foundation

/// Writes output files (images, grids, reports, weights) without ever touching what is not a regular file,
/// and without leaving half-written or clobbered files. Every writer of swift-dato goes through it, and
/// commands call `check` on every name they will write before any long computation starts.
///
/// - Only regular files are written: a destination that exists and is a folder, FIFO, socket or device
///   is refused (nothing is opened, so a FIFO never blocks).
/// - A symbolic link is written through: its target (followed link by link, relative targets from the link's
///   folder) is replaced and the link kept, if that target is a regular file or a new name in an existing
///   folder. Links to anything else, or into missing folders, are refused. As the kernel's
///   `protected_symlinks`, a link in a sticky world-writable folder such as /tmp is only followed if it
///   belongs to us or to the folder's owner.
/// - The data goes to a temporary file in the destination's folder (a short name, well under NAME_MAX,
///   created with O_EXCL and O_NOFOLLOW), is flushed with fsync and renamed over the destination. On any
///   error the temporary file is removed and the destination is untouched.
/// - A new file gets mode 0644 less the umask; a replaced file keeps its permission bits (and, when run as
///   root, its owner), as far as the file system allows.
/// - Errors are `OutputFileError`: "cannot write PATH: REASON".
public enum OutputFile {
    /// Throws an `OutputFileError` unless `write(_:to:)` could create or replace `path`: see the type's rules.
    public static func check(_ path: String) throws {
        _ = try OutputDestination.resolve(path)
    }

    /// Writes `data` to `path` through a temporary file, fsync and rename.
    public static func write(_ data: Data, to path: String) throws {
        try write(data, to: path, beforeRename: {})
    }

    /// `write(_:to:)` with a hook run between the flushed temporary file and the rename (for tests of failures).
    static func write(_ data: Data, to path: String, beforeRename: () throws -> Void) throws {
        let destination = try OutputDestination.resolve(path)
        let (fd, temporary) = try createTemporary(for: destination, given: path)
        var isOpen = true
        do {
            try writeAll(data, to: fd, given: path)
            keepAttributes(of: destination, on: fd)
            guard fsync(fd) == 0 else { throw OutputFileError(path: path, errno: errno) }
            isOpen = false
            guard close(fd) == 0 else { throw OutputFileError(path: path, errno: errno) }
            try beforeRename()
            // The destination is checked again, so that a file swapped in meanwhile is not replaced.
            guard try OutputDestination.resolve(path).path == destination.path else {
                throw OutputFileError(path: path, reason: "it was replaced by another file while being written")
            }
            guard rename(temporary, destination.path) == 0 else { throw OutputFileError(path: path, errno: errno) }
        } catch {
            if isOpen { close(fd) }
            unlink(temporary)
            throw error
        }
        syncFolder(destination.folder)
    }

    /// The temporary file's name for `name`: a dot, at most 64 bytes of the name (whole characters), the
    /// process id and a random tag, ".tmp": at most 97 bytes, so any legal `name` gets a legal temporary name.
    static func temporaryName(for name: String) -> String {
        var prefix = String.UnicodeScalarView()
        var bytes = 0
        for scalar in name.unicodeScalars {
            let width = UTF8.width(scalar)
            guard bytes + width <= 64 else { break }
            prefix.append(scalar)
            bytes += width
        }
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return ".\(String(prefix)).\(getpid()).\(tag).tmp"
    }

    /// A new, empty temporary file next to the destination, opened for writing.
    static func createTemporary(for destination: OutputDestination, given: String) throws -> (Int32, String) {
        let name = OutputPath.split(destination.path).name
        for _ in 0..<16 {
            let temporary = OutputPath.join(destination.folder, temporaryName(for: name))
            let fd = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o644)
            if fd >= 0 { return (fd, temporary) }
            let code = errno
            guard code == EEXIST || code == EINTR else {
                throw OutputFileError(path: given, errno: code, doing: "creating a temporary file in \(destination.folder)")
            }
        }
        throw OutputFileError(path: given, errno: EEXIST, doing: "creating a temporary file in \(destination.folder)")
    }

    /// Writes all of `data`, resuming after short writes and signals.
    static func writeAll(_ data: Data, to fd: Int32, given: String) throws {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, base + offset, min(raw.count - offset, 1 << 30))
                if n > 0 { offset += n; continue }
                let code = n == 0 ? ENOSPC : errno
                if code == EINTR { continue }
                throw OutputFileError(path: given, errno: code)
            }
        }
    }

    /// A replaced file's permission bits (and owner, for root) carry over; best effort, as some file
    /// systems (FAT) have no such thing.
    static func keepAttributes(of destination: OutputDestination, on fd: Int32) {
        guard let existing = destination.existing else { return }
        if geteuid() == 0, existing.st_uid != 0 || existing.st_gid != getegid() {
            _ = fchown(fd, existing.st_uid, existing.st_gid)
        }
        _ = fchmod(fd, existing.st_mode & 0o777)
    }

    /// Makes the rename durable; failures here cannot lose the file, so they are ignored.
    static func syncFolder(_ folder: String) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
