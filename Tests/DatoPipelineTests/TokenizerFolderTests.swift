@testable import DatoPipeline
import Foundation
import XCTest

/// Tokenizer folders in the forms real diffusers folders have (tokenizer.json of transformers 5, vocab.json +
/// merges.txt, SD 2.x's "!" padding, "a b" merges, transformers 4 configs) give transformers' CLIPTokenizer ids
/// (fixtures from tools/fixtures/tokenizer_fixtures.py).
final class TokenizerFolderTests: XCTestCase {
    struct Form: Decodable {
        let padId: Int, bosId: Int, eosId: Int
        let ids: [[Int]], raw: [[Int]]

        enum CodingKeys: String, CodingKey { case padId = "pad_id", bosId = "bos_id", eosId = "eos_id", ids, raw }
    }

    struct Fixture: Decodable {
        let prompts: [String]
        let forms: [String: Form]
    }

    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    static let fixture = Result {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: fixtures.appendingPathComponent("tokenizer-forms.json")))
    }

    static func folder(_ name: String) -> String { fixtures.appendingPathComponent("tokenizers/\(name)").path }

    /// `tokenizer` gives the form's ids on every prompt.
    func check(_ tokenizer: CLIPTokenizer, against name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let fixture = try Self.fixture.get()
        let form = try XCTUnwrap(fixture.forms[name], "no fixture form \(name)")
        XCTAssertEqual(tokenizer.padId, form.padId, "\(name): pad id", file: file, line: line)
        XCTAssertEqual(tokenizer.bosId, form.bosId, "\(name): bos id", file: file, line: line)
        XCTAssertEqual(tokenizer.eosId, form.eosId, "\(name): eos id", file: file, line: line)
        XCTAssertEqual(tokenizer.maxLength, 77, "\(name): max length", file: file, line: line)
        var mismatches = 0
        for (i, prompt) in fixture.prompts.enumerated() where mismatches < 5 {
            let raw = tokenizer.encode(prompt), ids = tokenizer(prompt).ids
            if raw != form.raw[i] || ids != form.ids[i] { mismatches += 1 }
            XCTAssertEqual(raw, form.raw[i], "\(name): raw ids of \(prompt.debugDescription)", file: file, line: line)
            XCTAssertEqual(ids, form.ids[i], "\(name): padded ids of \(prompt.debugDescription)", file: file, line: line)
        }
    }

    func testEachFolderFormMatchesTransformers() throws {
        let names = ["sd1-json", "sd2-json", "sd2-hub", "sd2-map-override", "legacy-strings", "both", "added-tokens", "dup-merge"]
        XCTAssertEqual(Set(try Self.fixture.get().forms.keys), Set(names + ["full-sd1", "full-sd2"]))
        XCTAssertGreaterThanOrEqual(try Self.fixture.get().prompts.count, 130)
        for name in names {
            try check(CLIPTokenizer(folder: Self.folder(name)), against: name)
        }
    }

    /// SD 2.x pads with "!" (id 0), and the prompt's "!" is that special token, matched whole.
    func testSD2PadsWithExclamationMark() throws {
        for name in ["sd2-json", "sd2-hub"] {
            let tokenizer = try CLIPTokenizer(folder: Self.folder(name))
            XCTAssertEqual(tokenizer.padId, 0)
            XCTAssertEqual(tokenizer("a cat").ids.suffix(70), ArraySlice(repeating: 0, count: 70))
            XCTAssertEqual(tokenizer.encode("hello!!!").suffix(3), [0, 0, 0])
        }
    }

    func testFullVocabularyWithSD1AndSD2SpecialTokens() throws {
        try check(CLIPTokenizer.builtin(), against: "full-sd1")
        try check(CLIPTokenizer.builtin(specialTokens: .sd2), against: "full-sd2")
    }

    /// transformers 5 reads tokenizer.json when the folder has both forms; the vocab.json form alone gives the
    /// same ids.
    func testBothFormsOfOneTokenizerAgree() throws {
        let both = Self.folder("both")
        XCTAssertEqual(CLIPTokenizer.files(in: both), ["tokenizer.json", "tokenizer_config.json"])
        let tmp = try temporaryFolder()
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(atPath: "\(both)/\(name)", toPath: "\(tmp)/\(name)")
        }
        XCTAssertEqual(CLIPTokenizer.files(in: tmp), ["vocab.json", "merges.txt"])
        let fromJSON = try CLIPTokenizer(folder: both), fromVocab = try CLIPTokenizer(folder: tmp)
        XCTAssertEqual(fromJSON.vocab, fromVocab.vocab)
        for prompt in try Self.fixture.get().prompts {
            XCTAssertEqual(fromJSON(prompt), fromVocab(prompt), prompt.debugDescription)
        }
        try check(fromVocab, against: "both")
    }

    /// With tokenizer.json present, vocab.json is not read (as in transformers 5), even when broken.
    func testTokenizerJSONIsPreferred() throws {
        let tmp = try temporaryFolder()
        try FileManager.default.copyItem(atPath: "\(Self.folder("sd1-json"))/tokenizer.json", toPath: "\(tmp)/tokenizer.json")
        try Data("{broken".utf8).write(to: URL(fileURLWithPath: "\(tmp)/vocab.json"))
        XCTAssertTrue(CLIPTokenizer.hasTokenizer(in: tmp))
        try check(CLIPTokenizer(folder: tmp), against: "sd1-json")   // no config: the same defaults
    }

    /// The tiny pipeline's tokenizer (written by transformers 5 next to vocab.json) loads from either form alike.
    func testTinyPipelineTokenizer() throws {
        let folder = Self.fixtures.appendingPathComponent("tiny-sd/tokenizer").path
        let tokenizer = try CLIPTokenizer(folder: folder)
        XCTAssertEqual(tokenizer.padId, tokenizer.eosId)
        try check(tokenizer, against: "both")   // the same reduced vocabulary and SD 1.x tokens
    }

    func temporaryFolder() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("dato-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }
}
