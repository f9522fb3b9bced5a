import Foundation

/// Path helpers of the output writers: plain string operations and folder checks, no Foundation URLs
/// (which resolve and standardise paths behind our back).
enum OutputPath {
    /// The folder part and the last component: "a/b.png" -> ("a", "b.png"), "b.png" -> (".", "b.png"),
    /// "/b.png" -> ("/", "b.png"), "a/" -> ("a", "").
    static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = String(path[..<slash])
        return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
    }

    /// `name` inside `folder`.
    static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    /// Throws unless `folder` exists, is a folder and we may create files in it. Errors name `given`, and
    /// the link target when the folder was reached through a symbolic link.
    static func requireWritableFolder(_ folder: String, for given: String, linkTarget: String?) throws {
        let via = linkTarget.map { " (the symbolic link points to \($0))" } ?? ""
        var status = stat()
        guard stat(folder, &status) == 0 else {
            let code = errno
            if code == ENOENT { throw OutputFileError(path: given, reason: "the folder \(folder) does not exist\(via)") }
            throw OutputFileError(path: given, errno: code, doing: "the folder \(folder)\(via)")
        }
        guard FileKind(status.st_mode) == .directory else {
            throw OutputFileError(path: given, reason: "\(folder) is not a folder\(via)")
        }
        guard access(folder, W_OK | X_OK) == 0 else {
            throw OutputFileError(path: given, errno: errno, doing: "the folder \(folder) is not writable\(via)")
        }
    }

    /// `folder` and those of its ancestors that do not exist yet, the nearest existing one last.
    /// Throws when something other than a folder is in the way.
    static func missingFolders(_ folder: String) throws -> (missing: [String], existing: String) {
        var missing: [String] = []
        var current = folder
        while true {
            var status = stat()
            if stat(current, &status) == 0 {
                guard FileKind(status.st_mode) == .directory else {
                    throw OutputFileError(path: folder, reason: current == folder ? "it is not a folder" : "\(current) is not a folder")
                }
                return (missing, current)
            }
            let code = errno
            guard code == ENOENT else { throw OutputFileError(path: folder, errno: code) }
            missing.append(current)
            let parent = split(current).folder
            guard parent != current, missing.count < 4096 else { throw OutputFileError(path: folder, errno: ENOENT) }
            current = parent
        }
    }
}
