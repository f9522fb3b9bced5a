import DatoModels
@testable import DatoPipeline
import Foundation
import XCTest

/// Corrupt or lying tokenizer folders get one error naming the file and the field, never a trap or a hang.
final class TokenizerHostileTests: XCTestCase {
    static let sd1 = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/tokenizers/sd1-json").path

    /// sd1-json's tokenizer.json as a JSON object.
    func tokenizerJSON() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(Self.sd1)/tokenizer.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func model(_ json: [String: Any]) throws -> [String: Any] { try XCTUnwrap(json["model"] as? [String: Any]) }

    /// A folder holding `files` (name -> JSON object, or raw text).
    func folder(_ files: [String: Any]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("dato-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        for (name, content) in files {
            let data = try (content as? String).map { Data($0.utf8) } ?? JSONSerialization.data(withJSONObject: content)
            try data.write(to: url.appendingPathComponent(name))
        }
        return url.path
    }

    /// Loading `folder` fails with a `ModelError` whose message names `file` and contains every one of `parts`.
    func assertRefused(_ folder: String, file: String, _ parts: [String], line: UInt = #line) {
        XCTAssertThrowsError(try CLIPTokenizer(folder: folder), line: line) { error in
            guard let error = error as? ModelError else { return XCTFail("not a ModelError: \(error)", line: line) }
            let text = error.description
            XCTAssertTrue(text.contains("\(folder)/\(file)") || (file.isEmpty && text.contains(folder)), "\(text) does not name \(file)", line: line)
            for part in parts { XCTAssertTrue(text.contains(part), "'\(text)' lacks '\(part)'", line: line) }
        }
    }

    /// A folder with sd1-json's tokenizer.json changed by `change`, and the extra files.
    func withJSON(_ extra: [String: Any] = [:], _ change: (inout [String: Any], inout [String: Any]) throws -> Void) throws -> String {
        var json = try tokenizerJSON(), model = try model(json)
        try change(&json, &model)
        json["model"] = model
        return try folder(extra.merging(["tokenizer.json": json]) { a, _ in a })
    }

    func testBadTokenizerJSON() throws {
        assertRefused(try folder(["tokenizer.json": "{\"model\": "]), file: "tokenizer.json", ["(root)", "not valid JSON"])
        assertRefused(try folder(["tokenizer.json": "[1, 2]"]), file: "tokenizer.json", ["(root)"])
        assertRefused(try folder(["tokenizer.json": ["version": "1.0"]]), file: "tokenizer.json", ["'model'", "missing"])
        var nullModel = try tokenizerJSON()
        nullModel["model"] = NSNull()
        assertRefused(try folder(["tokenizer.json": nullModel]), file: "tokenizer.json", ["'model'"])
        assertRefused(try withJSON { _, model in model["type"] = "WordPiece" }, file: "tokenizer.json", ["'model.type'", "WordPiece", "BPE"])
        assertRefused(try withJSON { _, model in model["type"] = "Unigram"; model["vocab"] = [["a", -1.0]] },
                      file: "tokenizer.json", ["'model.type'", "Unigram"])
        assertRefused(try withJSON { _, model in model["vocab"] = ["a", "b"] }, file: "tokenizer.json", ["'model.vocab'"])
        assertRefused(try withJSON { _, model in model["vocab"] = nil }, file: "tokenizer.json", ["'model.vocab'", "missing"])
        assertRefused(try withJSON { _, model in model["merges"] = 7 }, file: "tokenizer.json", ["'model.merges'"])
        assertRefused(try withJSON { json, _ in json["added_tokens"] = [["id": 3, "content": 5]] },
                      file: "tokenizer.json", ["'added_tokens.0.content'"])
        assertRefused(try withJSON { json, _ in json["added_tokens"] = [["id": 3, "content": ""]] },
                      file: "tokenizer.json", ["'added_tokens.0.content'", "empty"])
    }

    func testAbsurdIds() throws {
        func vocab(_ change: @escaping (inout [String: Any]) -> Void) throws -> String {
            try withJSON { _, model in
                var v = try XCTUnwrap(model["vocab"] as? [String: Any])
                change(&v)
                model["vocab"] = v
            }
        }
        assertRefused(try vocab { $0["zz"] = -5 }, file: "tokenizer.json", ["'model.vocab.zz'", "-5"])
        assertRefused(try vocab { $0["zz"] = 1_000_000_000 }, file: "tokenizer.json", ["'model.vocab.zz'", "outside"])
        assertRefused(try vocab { $0["zz"] = 1e30 }, file: "tokenizer.json", ["'model.vocab.zz'"])
        assertRefused(try vocab { $0["zz"] = "5" }, file: "tokenizer.json", ["'model.vocab.zz'"])
        assertRefused(try vocab { $0["zz"] = 2.5 }, file: "tokenizer.json", ["'model.vocab.zz'"])
        assertRefused(try vocab { $0["zz"] = 5 }, file: "tokenizer.json", ["id 5 is given to both"])
        // An added token in the vocabulary with another id, or outside it with a gap.
        assertRefused(try withJSON { json, _ in
            json["added_tokens"] = [["id": 7, "content": "<|endoftext|>", "special": true]]
        }, file: "tokenizer.json", ["added token 0", "<|endoftext|>", "gives it 2513"])
        assertRefused(try withJSON { json, _ in
            json["added_tokens"] = [["id": 3000, "content": "<cat-toy>"]]
        }, file: "tokenizer.json", ["added token 0", "<cat-toy>", "2514"])
    }

    /// An added token outside the vocabulary takes the next id and is matched whole.
    func testAddedTokenOutsideTheVocabulary() throws {
        let folder = try withJSON { json, _ in
            var added = try XCTUnwrap(json["added_tokens"] as? [[String: Any]])
            added.append(["id": 2514, "content": "<Cat-Toy>", "normalized": true, "special": false])
            json["added_tokens"] = added
        }
        let tokenizer = try CLIPTokenizer(folder: folder)
        XCTAssertEqual(tokenizer.encode("a <cat-TOY> photo").dropFirst().first, 2514)
        XCTAssertEqual(tokenizer.decode([2514]), "<Cat-Toy>")
    }

    func testBadMerges() throws {
        func merges(_ change: @escaping (inout [Any]) -> Void) throws -> String {
            try withJSON { _, model in
                var m = try XCTUnwrap(model["merges"] as? [Any])
                change(&m)
                model["merges"] = m
            }
        }
        assertRefused(try merges { $0.insert(["q", "zz"], at: 3) }, file: "tokenizer.json", ["'model.merges.3'", "'qzz' is not in the vocabulary"])
        assertRefused(try merges { $0.insert(["q", "z"], at: 0) }, file: "tokenizer.json", ["'model.merges.0'", "'qz' is not in the vocabulary"])
        assertRefused(try merges { $0[5] = ["a", "b", "c"] }, file: "tokenizer.json", ["'model.merges.5'", "two symbols"])
        assertRefused(try merges { $0[5] = 5 }, file: "tokenizer.json", ["'model.merges.5'"])
        assertRefused(try merges { $0 = $0.map { ($0 as? [String] ?? []).joined(separator: " ") }; $0[9] = "a b c" },
                      file: "tokenizer.json", ["'model.merges.9'", "'a b c'"])
        assertRefused(try merges { $0 = $0.map { ($0 as? [String] ?? []).joined(separator: " ") }; $0[9] = "ab" },
                      file: "tokenizer.json", ["'model.merges.9'"])
    }

    func testBadConfigs() throws {
        let config = "tokenizer_config.json", map = "special_tokens_map.json"
        assertRefused(try withJSON([config: ["pad_token": "<pad>"]]) { _, _ in }, file: config, ["'pad_token'", "<pad>", "nor an added token"])
        assertRefused(try withJSON([config: ["pad_token": 5]]) { _, _ in }, file: config, ["'pad_token'"])
        assertRefused(try withJSON([config: ["bos_token": ["lstrip": false]]]) { _, _ in }, file: config, ["'bos_token.content'", "missing"])
        assertRefused(try withJSON([config: ["eos_token": ""]]) { _, _ in }, file: config, ["'eos_token'", "empty"])
        for bad in [-1, 0, 1, 77.5, 1e6] as [Any] {
            assertRefused(try withJSON([config: ["model_max_length": bad]]) { _, _ in }, file: config, ["'model_max_length'"])
        }
        assertRefused(try withJSON([config: ["model_max_length": "77"]]) { _, _ in }, file: config, ["'model_max_length'"])
        assertRefused(try withJSON([config: "{\"model_max_length\": NaN}"]) { _, _ in }, file: config, ["not valid JSON"])
        assertRefused(try withJSON([config: ["added_tokens_decoder": ["abc": ["content": "x"]]]]) { _, _ in },
                      file: config, ["'added_tokens_decoder.abc'", "not a token id"])
        assertRefused(try withJSON([config: ["added_tokens_decoder": ["5": ["content": 3]]]]) { _, _ in },
                      file: config, ["'added_tokens_decoder.5.content'"])
        assertRefused(try withJSON([map: "{"]) { _, _ in }, file: map, ["not valid JSON"])
        assertRefused(try withJSON([map: ["unk_token": ["content": "<nope>"]]]) { _, _ in }, file: map, ["'unk_token'", "<nope>"])
        // "No limit" sentinels mean CLIP's 77.
        for huge in [1e30, 1e20] {
            XCTAssertEqual(try CLIPTokenizer(folder: withJSON([config: ["model_max_length": huge]]) { _, _ in }).maxLength, 77)
        }
        XCTAssertEqual(try CLIPTokenizer(folder: withJSON([config: ["model_max_length": 248]]) { _, _ in }).maxLength, 248)
    }

    func testMissingAndUnreadableFiles() throws {
        let empty = try folder([:])
        XCTAssertThrowsError(try CLIPTokenizer(folder: empty)) { error in
            let text = "\(error)"
            for part in [empty, "tokenizer.json", "vocab.json", "merges.txt"] { XCTAssertTrue(text.contains(part), text) }
        }
        XCTAssertFalse(CLIPTokenizer.hasTokenizer(in: empty))
        let vocabOnly = try folder(["vocab.json": ["a": 0]])
        XCTAssertThrowsError(try CLIPTokenizer(folder: vocabOnly)) { XCTAssertTrue("\($0)".contains("no merges.txt"), "\($0)") }
        assertRefused(try folder(["vocab.json": "{\"a\": \"x\"}", "merges.txt": "#version: 0.2\n"]), file: "vocab.json", ["'a'"])

        // A FIFO is refused at once, not waited on; an oversized file is refused before it is read.
        let fifo = try folder([:])
        XCTAssertEqual(mkfifo("\(fifo)/tokenizer.json", 0o600), 0)
        assertRefused(fifo, file: "tokenizer.json", ["not a regular file"])
        let big = try folder(["tokenizer.json": ""])
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(big)/tokenizer.json"))
        try handle.truncate(atOffset: UInt64(TokenizerFile.tablesLimit + 1))
        try handle.close()
        assertRefused(big, file: "tokenizer.json", ["limit"])
    }

    func testUnsupportedSequenceLengthThroughTheAPI() throws {
        XCTAssertThrowsError(try CLIPTokenizer(vocab: ["<|startoftext|>": 0, "<|endoftext|>": 1], merges: [], maxLength: 1))
        XCTAssertThrowsError(try CLIPTokenizer(vocab: ["<|startoftext|>": 0, "<|endoftext|>": 1], merges: [("a", "b")]))
        XCTAssertEqual(try CLIPTokenizer(vocab: ["<|startoftext|>": 0, "<|endoftext|>": 1], merges: [], maxLength: 2)("x").ids, [0, 1])
    }
}
