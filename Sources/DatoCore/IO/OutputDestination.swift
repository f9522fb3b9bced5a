import Foundation

/// The regular file an output path stands for, after following symbolic links, checked to be writable.
struct OutputDestination {
    /// The file to create or replace (the given path, or the end of its chain of symbolic links).
    let path: String
    /// The folder holding `path`: the temporary file goes there.
    let folder: String
    /// The file's status when it exists already (its mode and owner are kept).
    let existing: stat?

    /// Links followed at most, as the kernel's own limit (ELOOP).
    static let maxLinks = 40
    /// NAME_MAX of Linux and macOS file systems, in bytes.
    static let nameMax = 255

    /// Resolves `given`; throws `OutputFileError` naming `given` when it is not a regular file (or a link to one,
    /// or a new name) in an existing, writable folder.
    static func resolve(_ given: String) throws -> OutputDestination {
        guard !given.isEmpty else { throw OutputFileError(path: given, reason: "the file name is empty") }
        guard !given.utf8.contains(0) else { throw OutputFileError(path: given, reason: "the path contains a NUL character") }
        var current = given
        for _ in 0...maxLinks {
            let (folder, name) = OutputPath.split(current)
            try checkName(name, of: given)
            var status = stat()
            guard lstat(current, &status) == 0 else {
                let code = errno
                guard code == ENOENT else { throw OutputFileError(path: given, errno: code) }
                try OutputPath.requireWritableFolder(folder, for: given, linkTarget: current == given ? nil : current)
                return OutputDestination(path: current, folder: folder, existing: nil)
            }
            let kind = FileKind(status.st_mode)
            switch kind {
            case .regular:
                try OutputPath.requireWritableFolder(folder, for: given, linkTarget: current == given ? nil : current)
                return OutputDestination(path: current, folder: folder, existing: status)
            case .symbolicLink:
                try requireFollowable(link: current, owner: status.st_uid, folder: folder, for: given)
                current = try target(of: current, in: folder, for: given)
            default:
                let subject = current == given ? "it" : "its link target \(current)"
                throw OutputFileError(path: given, reason: "\(subject) is \(kind.name), not a regular file")
            }
        }
        throw OutputFileError(path: given, errno: ELOOP)
    }

    /// The last path component must name a file the file system can hold.
    static func checkName(_ name: String, of given: String) throws {
        guard !name.isEmpty, name != ".", name != ".." else {
            throw OutputFileError(path: given, reason: "it names a folder, not a file")
        }
        let bytes = name.utf8.count
        guard bytes <= nameMax else {
            throw OutputFileError(path: given, reason: "the file name is \(bytes) bytes long; file systems allow at most \(nameMax)")
        }
    }

    /// The kernel's `protected_symlinks` rule, which a manual walk of links would otherwise bypass: in a
    /// sticky world-writable folder (such as /tmp) a link is followed only if it is ours or the folder owner's.
    static func requireFollowable(link: String, owner: uid_t, folder: String, for given: String) throws {
        var status = stat()
        guard stat(folder, &status) == 0 else { throw OutputFileError(path: given, errno: errno) }
        let shared = status.st_mode & 0o1000 != 0 && status.st_mode & 0o002 != 0
        guard !shared || owner == geteuid() || owner == status.st_uid else {
            throw OutputFileError(path: given, reason: "\(link) is another user's symbolic link in the shared folder \(folder)")
        }
    }

    /// Where the link at `link` points, relative targets taken from the link's folder.
    static func target(of link: String, in folder: String, for given: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: 4097)
        let count = readlink(link, &buffer, buffer.count - 1)
        guard count >= 0 else { throw OutputFileError(path: given, errno: errno) }
        guard count < buffer.count - 1 else { throw OutputFileError(path: given, errno: ENAMETOOLONG) }
        let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard !target.isEmpty else { throw OutputFileError(path: given, reason: "\(link) is an empty symbolic link") }
        if target.hasPrefix("/") || folder == "." { return target }
        return OutputPath.join(folder, target)
    }
}

/// The type of a file, from `st_mode`.
enum FileKind: Equatable {
    case regular, directory, symbolicLink, fifo, characterDevice, blockDevice, socket, other

    init(_ mode: mode_t) {
        switch mode & 0o170000 {
        case 0o100000: self = .regular
        case 0o040000: self = .directory
        case 0o120000: self = .symbolicLink
        case 0o010000: self = .fifo
        case 0o020000: self = .characterDevice
        case 0o060000: self = .blockDevice
        case 0o140000: self = .socket
        default: self = .other
        }
    }

    /// "a folder", "a FIFO (named pipe)", ...
    var name: String {
        switch self {
        case .regular: return "a regular file"
        case .directory: return "a folder"
        case .symbolicLink: return "a symbolic link"
        case .fifo: return "a FIFO (named pipe)"
        case .characterDevice: return "a character device"
        case .blockDevice: return "a block device"
        case .socket: return "a socket"
        case .other: return "a special file"
        }
    }
}
