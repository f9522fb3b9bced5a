import Foundation

/// A one-line progress bar on standard error: step i/N, speed (s/it or it/s) and time left.
final class ProgressBar {
    private var elapsed = 0.0

    func update(done: Int, total: Int, seconds: Double) {
        elapsed += seconds
        let width = 30
        let filled = total > 0 ? width * done / total : width
        let perStep = elapsed / Double(max(done, 1))
        let speed = perStep >= 1 ? String(format: "%.2f s/it", perStep) : String(format: "%.2f it/s", 1 / max(perStep, 1e-9))
        let eta = perStep * Double(total - done)
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(String(format: "\r  |%@| %d/%d  %@  ETA %.0f s   ", bar, done, total, speed, eta))
    }

    func finish() { FileHandle.standardError.write("\n") }
}

extension FileHandle {
    func write(_ s: String) { write(Data(s.utf8)) }
}
