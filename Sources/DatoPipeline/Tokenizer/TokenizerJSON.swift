import DatoModels
import Foundation

/// What a CLIP tokenizer takes from a Hugging Face tokenizers `tokenizer.json` (the form transformers 5 saves,
/// without `vocab.json` / `merges.txt`): the BPE vocabulary and merges, the added tokens with their ids, and
/// the padding token if the file sets one.
///
/// As transformers' `CLIPTokenizer` does, only these are read: its normalizer (NFC, whitespace, lower case),
/// pre-tokenizer (CLIP's split pattern, byte-level) and `</w>` word ends are CLIP's own whatever the file's
/// `normalizer`, `pre_tokenizer` and `decoder` say. A model other than BPE is refused.
struct TokenizerJSON {
    var vocab: [String: Int]
    var merges: [(String, String)]
    var addedTokens: [AddedToken]
    var padToken: String?

    /// Reads and checks `path`.
    static func load(_ path: String) throws -> TokenizerJSON {
        try parse(TokenizerFile.read(path, limit: TokenizerFile.tablesLimit, "the tokenizer"), file: path)
    }

    /// Parses and checks the contents of a `tokenizer.json`; `path` names it in errors.
    static func parse(_ data: Data, file path: String) throws -> TokenizerJSON {
        let file = try TokenizerFile.decode(FileLayout.self, from: data, file: path)
        return TokenizerJSON(vocab: file.model.vocab.mapValues(\.value), merges: try file.model.merges.pairs(file: path),
                             addedTokens: try (file.addedTokens ?? []).enumerated().map { try $1.token(index: $0, file: path) },
                             padToken: file.padding?.padToken)
    }

    /// The JSON layout (the fields read).
    private struct FileLayout: Decodable {
        let model: Model
        let addedTokens: [Added]?
        let padding: Padding?

        enum CodingKeys: String, CodingKey { case model, addedTokens = "added_tokens", padding }
    }

    private struct Model: Decodable {
        let vocab: [String: TokenId]
        let merges: Merges

        enum CodingKeys: String, CodingKey { case type, vocab, merges }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            // Older files omit the type; a BPE model always has merges.
            if let type = try c.decodeIfPresent(String.self, forKey: .type), type != "BPE" {
                throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.type],
                    debugDescription: "the model is '\(type)'; a CLIP tokenizer is a byte-pair encoding ('BPE')"))
            }
            vocab = try c.decode([String: TokenId].self, forKey: .vocab)
            merges = try c.decode(Merges.self, forKey: .merges)
        }
    }

    /// The merge list: `[["a", "b"], ...]` (tokenizers 0.20 on) or `["a b", ...]` (older files).
    private enum Merges: Decodable {
        case pairs([[String]])
        case strings([String])

        init(from decoder: Decoder) throws {
            var probe = try decoder.unkeyedContainer()
            if !probe.isAtEnd, (try? probe.decode(String.self)) != nil {
                self = .strings(try decoder.singleValueContainer().decode([String].self))
            } else {
                self = .pairs(try decoder.singleValueContainer().decode([[String]].self))
            }
        }

        /// The merges as symbol pairs; a malformed entry is named by its index.
        func pairs(file: String) throws -> [(String, String)] {
            func bad(_ i: Int, _ message: String) -> ModelError { .config(file: file, field: "model.merges.\(i)", message: message) }
            switch self {
            case .pairs(let list):
                return try list.enumerated().map { i, pair in
                    guard pair.count == 2 else { throw bad(i, "expected two symbols, got \(pair.count)") }
                    return (pair[0], pair[1])
                }
            case .strings(let list):
                return try list.enumerated().map { i, line in
                    let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                        throw bad(i, "expected two symbols separated by one space, got '\(line.prefix(100))'")
                    }
                    return (String(parts[0]), String(parts[1]))
                }
            }
        }
    }

    private struct Added: Decodable {
        let id: TokenId
        let content: String
        let singleWord: Bool?
        let normalized: Bool?
        let special: Bool?

        enum CodingKeys: String, CodingKey { case id, content, singleWord = "single_word", normalized, special }

        /// The token; as in tokenizers, `normalized` defaults to true for a token that is not special.
        func token(index: Int, file: String) throws -> AddedToken {
            guard !content.isEmpty else {
                throw ModelError.config(file: file, field: "added_tokens.\(index).content", message: "is empty")
            }
            return AddedToken(content, id: id.value, normalized: normalized ?? !(special ?? false), singleWord: singleWord ?? false)
        }
    }

    private struct Padding: Decodable {
        let padToken: String?

        enum CodingKeys: String, CodingKey { case padToken = "pad_token" }
    }
}
