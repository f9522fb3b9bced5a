import DatoEvaluation
import DatoImage
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

    /// Seconds an external scorer may take per call unless `--scorer-timeout` says otherwise.
    public static let defaultScorerTimeout = 600.0

    /// Scores images with the external command (one score per image, in order). The images go to a private
    /// temporary folder (removed on every way out); the command runs as `ScorerProcess` does: its own
    /// process group, at most `timeout` seconds, at most 1 MiB of output.
    static func score(_ images: [GeneratedImage], prompts: [String], command: String, timeout: Double) throws -> [Double] {
        try score(images.map { ($0.pixels, $0.width, $0.height) }, prompts: prompts, command: command, timeout: timeout)
    }

    /// `score` of RGB images given as pixels and size; the private folder is made in `temporaryRoot`.
    static func score(_ images: [(pixels: [UInt8], width: Int, height: Int)], prompts: [String], command: String, timeout: Double,
                      temporaryRoot: URL = FileManager.default.temporaryDirectory) throws -> [Double] {
        let dir = temporaryRoot.appendingPathComponent("dato-score-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: dir) }
        var items: [[String: String]] = []
        for (i, image) in images.enumerated() {
            let path = dir.appendingPathComponent("\(i).png").path
            try PNGWriter.write(pixels: image.pixels, width: image.width, height: image.height, to: path)
            items.append(["image": path, "prompt": prompts[i]])
        }
        let input = try JSONSerialization.data(withJSONObject: items)
        signal(SIGPIPE, SIG_IGN)   // a scorer that does not read its input must not kill us
        let output = try ScorerProcess(command: command, timeout: timeout).run(input: [UInt8](input))
        return try parseScores(output, count: images.count, command: command)
    }

    /// Exactly `count` finite numbers separated by white space.
    static func parseScores(_ output: [UInt8], count: Int, command: String) throws -> [Double] {
        let words = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        let scores = words.compactMap { Double($0) }.filter(\.isFinite)
        guard scores.count == count, words.count == count else {
            let shown = words.prefix(5).map { $0.count > 24 ? "\($0.prefix(24))..." : String($0) }.joined(separator: " ")
            throw SearchError("the scorer command '\(command)' must print \(count) finite numbers, one per image; it printed \(words.count) word(s): '\(shown)\(words.count > 5 ? " ..." : "")'")
        }
        return scores
    }
}
