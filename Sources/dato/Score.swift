import ArgumentParser
import DatoDemo
import DatoEvaluation
import DatoImage
import Foundation

/// `dato score`: prompt alignment of demo-model images (the fraction of the prompt's attributes recognised).
struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prompt-alignment accuracy of 64x64 demo-model images (shape, colour, size, position, background).",
        discussion: "The prompt comes from --prompt or from each PNG's 'parameters' chunk, as dato generate writes it."
    )

    @Argument(help: "PNG images.") var images: [String]
    @Option(name: [.short, .customLong("prompt")], help: "The prompt of every image (default: read from the image).") var prompt: String?
    @Option(help: "A scorer folder (default: the bundled demo scorer).") var scorer: String?

    func run() throws {
        let s = try scorer.map { try AlignmentScorer(folder: $0) } ?? AlignmentScorer.bundled()
        var scores: [Double] = []
        var right: [String: Int] = [:], named: [String: Int] = [:]
        for path in images {
            let image = try PNGReader.read(path: path)
            guard let text = prompt ?? image.text["parameters"]?.components(separatedBy: "\n").first else {
                throw ValidationError("\(path): no prompt given and no 'parameters' chunk to read it from")
            }
            guard let a = try s.alignment(prompt: text, pixels: image.pixels, width: image.width, height: image.height) else {
                print("\(path): the prompt names no attribute the scorer knows: \"\(text)\"")
                continue
            }
            let seen = try s.read(pixels: image.pixels, width: image.width, height: image.height)
            for (attribute, value) in s.attributes(of: text) {
                named[attribute, default: 0] += 1
                if seen[attribute] == value { right[attribute, default: 0] += 1 }
            }
            print(String(format: "%.3f  %@  (read: %@)", a, path, s.attributes.compactMap { seen[$0] }.joined(separator: ", ")))
            scores.append(a)
        }
        guard !scores.isEmpty else { return }
        let parts = s.attributes.compactMap { a in named[a].map { String(format: "%@ %.3f", a, Double(right[a, default: 0]) / Double($0)) } }
        print("per attribute: " + parts.joined(separator: ", "))
        print(String(format: "mean alignment %.3f over %d image(s)", scores.reduce(0, +) / Double(scores.count), scores.count))
    }
}
