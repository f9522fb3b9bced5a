import DatoCore
import Foundation

/// Output file names for several images from one pattern.
public enum OutputNaming {
    /// The file for image `index` (1-based) of `total`: '%d' in the pattern becomes the number; without
    /// it, several images get "-1", "-2", ... before the extension, and a single image the pattern itself.
    public static func path(_ pattern: String, index: Int, total: Int) -> String {
        if pattern.contains("%d") { return pattern.replacingOccurrences(of: "%d", with: "\(index)") }
        guard total > 1 else { return pattern }
        let url = URL(fileURLWithPath: pattern)
        let ext = url.pathExtension.isEmpty ? "png" : url.pathExtension
        return url.deletingPathExtension().path + "-\(index).\(ext)"
    }

    /// Checks, before any image is generated, every file name a batch of `total` images will write
    /// (see `OutputFile.check`): the folder exists and is writable, no name is empty, too long, or an
    /// existing folder, FIFO, device or socket. Throws `OutputFileError` naming the first bad file.
    public static func check(_ pattern: String, total: Int) throws {
        guard !pattern.isEmpty else { throw OutputFileError(path: pattern, reason: "the file name is empty") }
        for index in 1...max(total, 1) {
            try OutputFile.check(path(pattern, index: index, total: total))
        }
    }
}
