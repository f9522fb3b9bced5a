import CZlib
import DatoCore
import DatoDigest
import DatoImage
@testable import DatoPipeline
import Foundation
import XCTest

/// PNG output, its metadata and file naming.
final class OutputTests: XCTestCase {
    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let long = Data(repeating: UInt8(ascii: "a"), count: 1_000_000)
        XCTAssertEqual(SHA256.hex(long), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testParametersText() {
        var r = GenerationRequest(prompt: "a cat, sitting")
        r.negativePrompt = "blurry"
        r.steps = 20
        r.seed = 42
        r.width = 512
        r.height = 768
        let text = GenerationParameters.text(request: r, sampler: .eulerAncestral, modelName: "v1-5", modelHash: "6ce0161689")
        XCTAssertEqual(text, """
            a cat, sitting
            Negative prompt: blurry
            Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x768, Model hash: 6ce0161689, Model: v1-5
            """)
    }

    /// Writes a PNG and reads it back: signature, chunk CRCs, header, text and inflated pixels.
    func testPNGRoundTrip() throws {
        let w = 5, h = 3
        let pixels = (0..<(w * h * 3)).map { UInt8(($0 * 37) % 256) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dato-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try PNGWriter.write(pixels: pixels, width: w, height: h, text: [("parameters", "hello\nSeed: 1")], to: path)
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(Array(data[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var i = 8
        var chunks: [String: [UInt8]] = [:]
        while i < data.count {
            let n = Int(data[i]) << 24 | Int(data[i + 1]) << 16 | Int(data[i + 2]) << 8 | Int(data[i + 3])
            let type = String(decoding: data[(i + 4)..<(i + 8)], as: UTF8.self)
            let typed = Array(data[(i + 4)..<(i + 8 + n)])
            let crc = UInt32(data[i + 8 + n]) << 24 | UInt32(data[i + 9 + n]) << 16 | UInt32(data[i + 10 + n]) << 8 | UInt32(data[i + 11 + n])
            XCTAssertEqual(UInt32(crc32(0, typed, uInt(typed.count))), crc, "CRC of \(type)")
            chunks[type] = Array(typed.dropFirst(4))
            i += 12 + n
        }
        XCTAssertEqual(chunks["IHDR"].map { Array($0[0..<10]) }, [0, 0, 0, 5, 0, 0, 0, 3, 8, 2])
        XCTAssertEqual(chunks["tEXt"].map { String(decoding: $0, as: UTF8.self) }, "parameters\u{0}hello\nSeed: 1")
        var raw = [UInt8](repeating: 0, count: h * (w * 3 + 1))
        var size = uLongf(raw.count)
        let idat = chunks["IDAT"] ?? []
        XCTAssertEqual(uncompress(&raw, &size, idat, uLong(idat.count)), Z_OK)
        for y in 0..<h {
            XCTAssertEqual(raw[y * (w * 3 + 1)], 0)
            XCTAssertEqual(Array(raw[(y * (w * 3 + 1) + 1)..<((y + 1) * (w * 3 + 1))]), Array(pixels[(y * w * 3)..<((y + 1) * w * 3)]))
        }
        XCTAssertNotNil(chunks["IEND"])
    }

    func testOutputNaming() {
        XCTAssertEqual(OutputNaming.path("out.png", index: 1, total: 1), "out.png")
        XCTAssertTrue(OutputNaming.path("out.png", index: 2, total: 3).hasSuffix("out-2.png"))
        XCTAssertEqual(OutputNaming.path("img_%d.png", index: 7, total: 9), "img_7.png")
    }
}
