import DatoPipeline
import Foundation
import XCTest

/// The tokenizer gives transformers' CLIPTokenizer ids (fixtures from tools/fixtures/make_fixtures.py).
final class TokenizerTests: XCTestCase {
    struct Case: Decodable {
        let prompt: String
        let ids: [Int]
        let raw: [Int]
    }

    static let tokenizer = Result { try CLIPTokenizer.builtin() }

    func testMatchesTransformers() throws {
        let tok = try Self.tokenizer.get()
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/tokenizer-ids.json")
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: url))
        XCTAssertGreaterThanOrEqual(cases.count, 100)
        for c in cases {
            XCTAssertEqual(tok.encode(c.prompt), c.raw, "raw ids of \(c.prompt.debugDescription)")
            let enc = tok(c.prompt)
            XCTAssertEqual(enc.ids, c.ids, "padded ids of \(c.prompt.debugDescription)")
            XCTAssertEqual(enc.truncatedText != nil, c.raw.count > 75, "truncation flag of \(c.prompt.debugDescription)")
        }
    }

    func testKnownIdsAndTruncationWarning() throws {
        let tok = try Self.tokenizer.get()
        XCTAssertEqual(tok.vocab.count, 49408)
        XCTAssertEqual(Array(tok("a photo of a cat").ids.prefix(8)), [49406, 320, 1125, 539, 320, 2368, 49407, 49407])
        let long = Array(repeating: "red", count: 79).joined(separator: " ") + " blue"
        let enc = tok(long)
        XCTAssertEqual(enc.ids.count, 77)
        XCTAssertEqual(enc.ids.last, tok.eosId)
        XCTAssertNotNil(enc.truncatedText)
        XCTAssertEqual(enc.truncatedText, "red red red red blue")   // tokens 76...80 did not fit
    }
}
