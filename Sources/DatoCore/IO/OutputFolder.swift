import Foundation

/// Output folders that are created on demand (e.g. `dato search --out`).
public enum OutputFolder {
    /// Throws an `OutputFileError` unless `create(_:)` would succeed and files could then be written in
    /// `folder`: it is an existing writable folder, or the nearest existing ancestor is a writable folder.
    /// Creates nothing.
    public static func check(_ folder: String) throws {
        guard !folder.isEmpty else { throw OutputFileError(path: folder, reason: "the folder name is empty") }
        guard !folder.utf8.contains(0) else { throw OutputFileError(path: folder, reason: "the path contains a NUL character") }
        let (_, existing) = try OutputPath.missingFolders(folder)
        guard access(existing, W_OK | X_OK) == 0 else {
            throw OutputFileError(path: folder, errno: errno, doing: "the folder \(existing) is not writable")
        }
    }

    /// Creates `folder` and its missing ancestors (mode 0755 less the umask); an existing folder is fine.
    public static func create(_ folder: String) throws {
        try check(folder)
        let (missing, _) = try OutputPath.missingFolders(folder)
        for path in missing.reversed() where mkdir(path, 0o755) != 0 {
            let code = errno
            var status = stat()
            guard code == EEXIST, stat(path, &status) == 0, FileKind(status.st_mode) == .directory else {
                throw OutputFileError(path: folder, errno: code, doing: "creating the folder \(path)")
            }
        }
    }
}
