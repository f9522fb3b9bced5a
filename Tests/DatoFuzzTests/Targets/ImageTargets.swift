import DatoImage
import Foundation

/// Images read back (`dato score`, the prompt and plan recorded in a PNG).
enum ImageTargets {
    /// `PNGReader.read(path:)`: chunks, header, zlib data, filters, text chunks.
    static func png(_ data: Data) {
        guard let image = try? PNGReader.read(path: InputFile.shared.holding(data)) else { return }
        let (pixels, overflow) = image.width.multipliedReportingOverflow(by: image.height)
        guard image.width > 0, image.height > 0, !overflow, image.pixels.count / 3 == pixels, image.pixels.count % 3 == 0 else {
            FuzzTarget.violation("PNG of \(image.width)x\(image.height) has \(image.pixels.count) RGB bytes")
        }
    }
}
