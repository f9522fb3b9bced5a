import DatoCore
import DatoModels
import Foundation

/// The demo model's prompt-alignment scorer (tools/demo-model/scorer.py): a small CNN that reads shape,
/// colour, size, position and background back from a 64x64 image. The score of an image is the fraction of
/// the attributes its prompt names that the CNN recognises.
public final class AlignmentScorer {
    /// Attribute names in output order and each attribute's vocabulary (e.g. "position": ["top left", ...]).
    public let attributes: [String]
    public let vocabulary: [String: [String]]
    let conv1: Conv2D, conv2: Conv2D, conv3: Conv2D
    let fc1: Linear, fc2: Linear

    /// Loads `scorer.safetensors` and `scorer.json` from `folder`.
    public init(folder: String) throws {
        let meta = "\(folder)/scorer.json"
        struct Meta: Decodable { let attributes: [String]; let vocabulary: [String: [String]] }
        guard let data = FileManager.default.contents(atPath: meta) else { throw ScorerError("cannot read '\(meta)'") }
        let m: Meta
        do { m = try JSONDecoder().decode(Meta.self, from: data) } catch {
            throw ScorerError("'\(meta)' is not a scorer description (attributes, vocabulary): \(error)")
        }
        attributes = m.attributes
        vocabulary = m.vocabulary
        let classes = m.attributes.reduce(0) { $0 + (m.vocabulary[$1]?.count ?? 0) }
        let p = Parameters(try SafetensorsSource(path: "\(folder)/scorer.safetensors"))
        func conv(_ name: String, _ cin: Int, _ cout: Int) throws -> Conv2D {
            try Conv2D(weight: p.take("\(name).weight", [cout, cin, 3, 3]), bias: p.take("\(name).bias", [cout]), stride: 2, padding: 1)
        }
        conv1 = try conv("conv1", 3, 32)
        conv2 = try conv("conv2", 32, 64)
        conv3 = try conv("conv3", 64, 64)
        fc1 = try Linear(weight: p.take("fc1.weight", [128, 8 * 8 * 64]), bias: p.take("fc1.bias", [128]))
        fc2 = try Linear(weight: p.take("fc2.weight", [classes, 128]), bias: p.take("fc2.bias", [classes]))
        try p.finish()
    }

    /// Logits [B, classes] for RGB images [B, 64, 64, 3] with values in [-1, 1].
    public func logits(_ images: Tensor) throws -> Tensor {
        guard images.shape.count == 4, images.dim(1) == 64, images.dim(2) == 64, images.dim(3) == 3 else {
            throw ScorerError("the scorer reads 64x64 RGB images, got \(images.shape)")
        }
        var x = images
        for c in [conv1, conv2, conv3] {
            x = try c(x)
            Elementwise.silu(x)
        }
        let h = try fc1(x.reshape([x.dim(0), 8 * 8 * 64]))
        Elementwise.silu(h)
        return try fc2(h)
    }

    /// The attributes recognised in one 8-bit RGB image (64x64).
    public func read(pixels: [UInt8], width: Int, height: Int) throws -> [String: String] {
        guard width == 64, height == 64, pixels.count == 64 * 64 * 3 else {
            throw ScorerError("the scorer reads 64x64 RGB images, got \(width)x\(height)")
        }
        let x = Tensor(shape: [1, 64, 64, 3], values: pixels.map { Float($0) / 127.5 - 1 })
        let z = try logits(x)
        var out: [String: String] = [:], offset = 0
        for a in attributes {
            let names = vocabulary[a] ?? []
            var best = 0
            for i in names.indices where z[offset + i] > z[offset + best] { best = i }
            if !names.isEmpty { out[a] = names[best] }
            offset += names.count
        }
        return out
    }

    /// The attributes a prompt names, read from the demo template
    /// "a {size} {colour} {shape} at the {position} on a {background} background" (missing parts are skipped).
    public func attributes(of prompt: String) -> [String: String] {
        let text = " " + prompt.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ") + " "
        let parts = text.components(separatedBy: " on a ")
        let object = parts[0].components(separatedBy: " at the ")
        var out: [String: String] = [:]
        func find(_ a: String, in segment: String) {
            for v in (vocabulary[a] ?? []).sorted(by: { $0.count > $1.count }) where segment.contains(" \(v) ") { out[a] = v; return }
        }
        for a in ["size", "colour", "shape"] { find(a, in: object[0] + " ") }
        if object.count > 1 { find("position", in: " " + object[1] + " ") }
        if parts.count > 1 { find("background", in: " " + parts[1]) }
        return out
    }

    /// Fraction of the prompt's attributes recognised in the image (nil when the prompt names none).
    public func alignment(prompt: String, pixels: [UInt8], width: Int, height: Int) throws -> Double? {
        let wanted = attributes(of: prompt)
        guard !wanted.isEmpty else { return nil }
        let seen = try read(pixels: pixels, width: width, height: height)
        return Double(wanted.filter { seen[$0.key] == $0.value }.count) / Double(wanted.count)
    }
}
