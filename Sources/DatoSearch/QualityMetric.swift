import DatoPipeline
import Foundation

/// How a search measures quality loss against the unaccelerated image of the same prompt and seed.
public enum QualityMetric: Sendable, Equatable, CustomStringConvertible {
    /// 1 - SSIM of the 8-bit images.
    case ssim
    /// Negative PSNR in dB (identical images count as 100 dB).
    case psnr
    /// An external scorer: a shell command that reads a JSON list of {"image": path, "prompt": text} on
    /// standard input and prints one score per image, higher meaning better (e.g. ImageReward, CLIP score).
    /// The loss is the baseline's mean score minus the plan's.
    case command(String)
    /// 1 - prompt alignment of the demo scorer (`AlignmentScorer`; 64x64 demo-model images).
    case alignment

    public init(parsing s: String) throws {
        switch s {
        case "ssim": self = .ssim
        case "psnr": self = .psnr
        case "alignment": self = .alignment
        default:
            guard s.hasPrefix("command:"), s.count > 8 else {
                throw SearchError("--quality must be ssim, psnr, alignment or command:\"...\" (got '\(s)')")
            }
            self = .command(String(s.dropFirst(8)))
        }
    }

    public var description: String {
        switch self { case .ssim: "ssim"; case .psnr: "psnr"; case .alignment: "alignment"; case .command(let c): "command:\(c)" }
    }

    /// Whether the metric scores each image on its own (the loss is then the drop of the mean score).
    var isScore: Bool {
        switch self { case .command, .alignment: true; default: false }
    }

    /// Per-image loss of `image` against `reference` for the pixel metrics.
    func pixelLoss(_ image: GeneratedImage, _ reference: GeneratedImage) -> Double {
        switch self {
        case .ssim: return 1 - ImageMetrics.ssim(image.pixels, reference.pixels, width: image.width, height: image.height)
        case .psnr: return -min(100, ImageMetrics.psnr(image.pixels, reference.pixels))
        case .command, .alignment: return 0
        }
    }

    /// Scores images with the external command (one score per image, in order).
    static func score(_ images: [GeneratedImage], prompts: [String], command: String) throws -> [Double] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dato-score-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var items: [[String: String]] = []
        for (i, image) in images.enumerated() {
            let path = dir.appendingPathComponent("\(i).png").path
            try PNGWriter.write(pixels: image.pixels, width: image.width, height: image.height, to: path)
            items.append(["image": path, "prompt": prompts[i]])
        }
        let input = try JSONSerialization.data(withJSONObject: items)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        signal(SIGPIPE, SIG_IGN)   // a scorer that does not read its input must not kill us
        try process.run()
        try? stdin.fileHandleForWriting.write(contentsOf: input)
        try? stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw SearchError("the scorer command '\(command)' exited with status \(process.terminationStatus)")
        }
        let words = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        let scores = words.compactMap { Double($0) }.filter(\.isFinite)
        guard scores.count == images.count, words.count == images.count else {
            throw SearchError("the scorer command '\(command)' must print \(images.count) finite numbers, one per image; it printed '\(words.prefix(5).joined(separator: " "))'")
        }
        return scores
    }
}
