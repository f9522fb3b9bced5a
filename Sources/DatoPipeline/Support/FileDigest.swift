import DatoCore
import Foundation

/// SHA-256 of a file's contents, cached by path, size, modification time and inode in swift-dato's cache
/// folder, so that a multi-gigabyte weights file is hashed once, not at every generation or search start.
/// Used for the PNG's model hash and for a search journal's model identity.
public enum FileDigest {
    /// Files smaller than this are hashed every time (configs, tokenizer files): no cache entry needed.
    public static let uncachedBelow = 1 << 20

    /// The hex SHA-256 of the regular file at `path`; a `RegularFileError` names a missing or special file.
    public static func sha256(_ path: String) throws -> String {
        let (fd, _) = try RegularFile.open(path)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw RegularFileError(path: path, reason: "cannot stat: \(String(cString: strerror(errno)))") }
        let key = "\(URL(fileURLWithPath: path).standardizedFileURL.path)|\(st.st_size)|\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)|\(st.st_dev):\(st.st_ino)"
        let cached = st.st_size >= uncachedBelow
        var cache = cached ? load() : [:]
        if let hit = cache[key] { return hit }
        let digest = try hash(fd, path: path)
        if cached {
            cache[key] = digest
            save(cache)
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

    /// `file-digests.json` in swift-dato's cache folder.
    static var cacheFile: URL {
        GenerationParameters.cacheDirectory().appendingPathComponent("file-digests.json")
    }

    private static func load() -> [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: RegularFile.read(cacheFile.path, limit: 16 << 20))) ?? [:]
    }

    private static func save(_ cache: [String: String]) {
        guard let data = try? JSONEncoder().encode(cache) else { return }
        try? FileManager.default.createDirectory(at: cacheFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? OutputFile.write(data, to: cacheFile.path)
    }
}
