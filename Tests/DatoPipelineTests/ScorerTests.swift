import DatoCore
import DatoDemo
import DatoEvaluation
import DatoImage
import Foundation
import XCTest
import DatoTestSupport

/// The Swift alignment scorer against the PyTorch scorer (tools/demo-model/scorer.py) on fixture images.
final class ScorerTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func scorer() throws -> AlignmentScorer {
        try AlignmentScorer(folder: Self.root.appendingPathComponent("Sources/DatoDemo/Resources/demo-scorer").path)
    }

    func testLogitsMatchPyTorch() throws {
        let s = try scorer()
        let f = try SafetensorsFile(path: Self.root.appendingPathComponent("Tests/DatoPipelineTests/Fixtures/scorer/scorer-logits.safetensors").path)
        let images = try f.tensor("images"), ref = try f.tensor("logits")
        let x = Tensor(shape: images.shape, values: images.array.map { $0 / 127.5 - 1 })
        let z = try s.logits(x)
        var worst: Float = 0
        for i in 0..<ref.count { worst = max(worst, difference(z[i], ref[i])) }
        XCTAssertLessThanOrEqual(worst, 1e-4 * max(1, ref.maxAbs), "max logit error \(worst)")
        // The generator's own images of these captions are read correctly (the scorer is ~98% accurate).
        let captions = try JSONDecoder().decode([String].self, from: Data(contentsOf: Self.root.appendingPathComponent("Tests/DatoPipelineTests/Fixtures/scorer/captions.json")))
        var total = 0.0
        for (i, caption) in captions.enumerated() {
            let px = (0..<(64 * 64 * 3)).map { UInt8(images[i * 64 * 64 * 3 + $0]) }
            total += try XCTUnwrap(s.alignment(prompt: caption, pixels: px, width: 64, height: 64))
        }
        XCTAssertGreaterThanOrEqual(total / Double(captions.count), 0.9)
    }

    func testPromptAttributes() throws {
        let s = try AlignmentScorer.bundled()
        XCTAssertEqual(s.attributes(of: "a small red circle at the top left on a blue background"),
                       ["size": "small", "colour": "red", "shape": "circle", "position": "top left", "background": "blue"])
        XCTAssertEqual(s.attributes(of: "A large  green square at the center"), ["size": "large", "colour": "green", "shape": "square", "position": "center"])
        XCTAssertNil(try s.alignment(prompt: "a photo of a cat", pixels: [UInt8](repeating: 0, count: 64 * 64 * 3), width: 64, height: 64))
        XCTAssertThrowsError(try s.read(pixels: [0, 0, 0], width: 1, height: 1))
    }
}

extension ScorerTests {
    /// A PNG written by Pillow (filtered rows, text chunk) reads back to the generator's pixels and prompt,
    /// and our own PNGs round-trip.
    func testPNGReader() throws {
        let folder = Self.root.appendingPathComponent("Tests/DatoPipelineTests/Fixtures/scorer")
        let png = try PNGReader.read(path: folder.appendingPathComponent("image0.png").path)
        let images = try SafetensorsFile(path: folder.appendingPathComponent("scorer-logits.safetensors").path).tensor("images")
        XCTAssertEqual(png.width, 64); XCTAssertEqual(png.height, 64)
        XCTAssertEqual(png.pixels, (0..<(64 * 64 * 3)).map { UInt8(images[$0]) })
        let captions = try JSONDecoder().decode([String].self, from: Data(contentsOf: folder.appendingPathComponent("captions.json")))
        XCTAssertEqual(png.text["parameters"]?.components(separatedBy: "\n").first, captions[0])
        let pixels = (0..<(5 * 3 * 3)).map { UInt8($0 * 5 % 256) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("roundtrip-\(getpid()).png").path
        try PNGWriter.write(pixels: pixels, width: 5, height: 3, text: [("parameters", "a cat")], to: path)
        let back = try PNGReader.read(path: path)
        XCTAssertEqual(back.pixels, pixels)
        XCTAssertEqual(back.text["parameters"], "a cat")
        XCTAssertThrowsError(try PNGReader.read(path: folder.appendingPathComponent("captions.json").path))
    }
}
