import DatoCore
import Foundation

/// SHA-256 of a file's contents, cached by path, size, modification time and inode in a cache folder the
/// caller names (the `dato` command: `$XDG_CACHE_HOME/swift-dato`), so that a multi-gigabyte weights file is
/// hashed once, not at every generation or search start. Used for the PNG's model hash and for a search
/// journal's model identity.
public enum FileDigest {
    /// Files smaller than this are hashed every time (configs, tokenizer files): no cache entry needed.
    public static let uncachedBelow = 1 << 20

    /// The hex SHA-256 of the regular file at `path`; a `RegularFileError` names a missing or special file.
    /// With `cacheDirectory`, digests of large files are kept in its `file-digests.json`; without, every call
    /// hashes the file.
    public static func sha256(_ path: String, cacheDirectory: URL? = nil) throws -> String {
        let (fd, _) = try RegularFile.open(path)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw RegularFileError(path: path, reason: "cannot stat: \(String(cString: strerror(errno)))") }
        let key = "\(URL(fileURLWithPath: path).standardizedFileURL.path)|\(st.st_size)|\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)|\(st.st_dev):\(st.st_ino)"
        let cacheFile = st.st_size >= uncachedBelow ? cacheDirectory.map(Self.cacheFile) : nil
        var cache = cacheFile.map(load) ?? [:]
        if let hit = cache[key] { return hit }
        let digest = try hash(fd, path: path)
        if let cacheFile {
            cache[key] = digest
            save(cache, to: cacheFile)
        }
        return digest
    }

    private static func hash(_ fd: Int32, path: String) throws -> String {
        var sha = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 22)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw RegularFileError(path: path, reason: "cannot read: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            sha.update(buffer[0..<n])
        }
        return sha.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// `file-digests.json` in the cache folder `directory`.
    static func cacheFile(in directory: URL) -> URL {
        directory.appendingPathComponent("file-digests.json")
    }

    private static func load(_ cacheFile: URL) -> [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: RegularFile.read(cacheFile.path, limit: 16 << 20))) ?? [:]
    }

    private static func save(_ cache: [String: String], to cacheFile: URL) {
        guard let data = try? JSONEncoder().encode(cache) else { return }
        try? FileManager.default.createDirectory(at: cacheFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? OutputFile.write(data, to: cacheFile.path)
    }
}
