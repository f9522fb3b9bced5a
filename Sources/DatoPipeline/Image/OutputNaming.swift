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
}
