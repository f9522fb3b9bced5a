import DatoModels
import Foundation

/// Loading a diffusers `tokenizer/` folder in either of its forms, picked as transformers 5 picks them:
/// `tokenizer.json` (what transformers 5 and `save_pretrained` write) when present, else `vocab.json` with
/// `merges.txt` (older folders, e.g. SD 1.5 and 2.1 on the Hub); with the special tokens of
/// `tokenizer_config.json` / `special_tokens_map.json` (see `TokenizerConfig`).
extension CLIPTokenizer {
    static let jsonName = "tokenizer.json", vocabName = "vocab.json", mergesName = "merges.txt"

    /// Loads the tokenizer of a diffusers `tokenizer/` folder.
    public convenience init(folder: String) throws {
        let jsonPath = "\(folder)/\(Self.jsonName)"
        if TokenizerFile.exists(jsonPath) {
            let json = try TokenizerJSON.load(jsonPath)
            let special = try TokenizerConfig.specialTokens(folder: folder, tokenizerJSON: (jsonPath, json))
            let origin = BPETables.Origin(vocabFile: jsonPath, vocabField: "model.vocab", mergesFile: jsonPath,
                                          mergeField: { "model.merges.\($0)" })
            try self.init(tables: BPETables(vocab: json.vocab, merges: json.merges, origin: origin),
                          specialTokens: special, vocabFile: jsonPath)
            return
        }
        let vocabPath = "\(folder)/\(Self.vocabName)", mergesPath = "\(folder)/\(Self.mergesName)"
        let hasVocab = TokenizerFile.exists(vocabPath), hasMerges = TokenizerFile.exists(mergesPath)
        guard hasVocab || hasMerges else {
            throw ModelError.layout(path: folder, message:
                "no tokenizer: expected \(Self.jsonName) (the Hugging Face tokenizers form transformers 5 writes) or \(Self.vocabName) with \(Self.mergesName)")
        }
        guard hasVocab && hasMerges else {
            let (has, missing) = hasVocab ? (Self.vocabName, Self.mergesName) : (Self.mergesName, Self.vocabName)
            throw ModelError.layout(path: folder, message: "the tokenizer has \(has) but no \(missing) (and no \(Self.jsonName))")
        }
        let vocab = try TokenizerFile.decode([String: TokenId].self, from: TokenizerFile.read(
            vocabPath, limit: TokenizerFile.tablesLimit, "the tokenizer vocabulary"), file: vocabPath).mapValues(\.value)
        let mergesData = try TokenizerFile.read(mergesPath, limit: TokenizerFile.tablesLimit, "the tokenizer merges")
        guard let text = String(data: mergesData, encoding: .utf8) else {
            throw ModelError.layout(path: mergesPath, message: "the tokenizer merges are not UTF-8 text")
        }
        let merges = try Self.parseMerges(text, file: mergesPath, skipHeader: true)
        let special = try TokenizerConfig.specialTokens(folder: folder, tokenizerJSON: nil)
        let origin = BPETables.Origin(vocabFile: vocabPath, vocabField: "", mergesFile: mergesPath, mergeField: { "merge \($0 + 1)" })
        try self.init(tables: BPETables(vocab: vocab, merges: merges, origin: origin), specialTokens: special, vocabFile: vocabPath)
    }

    /// Whether `folder` holds tokenizer files of either form (`tokenizer.json`, `vocab.json`, `merges.txt`);
    /// if a form is incomplete, `init(folder:)` says what is missing.
    public static func hasTokenizer(in folder: String) -> Bool {
        [jsonName, vocabName, mergesName].contains { TokenizerFile.exists("\(folder)/\($0)") }
    }

    /// The files `init(folder:)` reads from `folder` (names relative to it), e.g. to identify a model by them.
    public static func files(in folder: String) -> [String] {
        let tables = TokenizerFile.exists("\(folder)/\(jsonName)") ? [jsonName] : [vocabName, mergesName]
        return tables + [TokenizerConfig.configName, TokenizerConfig.mapName].filter { TokenizerFile.exists("\(folder)/\($0)") }
    }

    /// The merge list of a `merges.txt` (a `#version` first line is skipped).
    static func parseMerges(_ text: String, file: String, skipHeader: Bool) throws -> [(String, String)] {
        var out: [(String, String)] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            if skipHeader && n == 0 && line.hasPrefix("#version") { continue }
            let parts = line.split(separator: " ")
            guard parts.count == 2 else {
                throw ModelError.config(file: file, field: "line \(n + 1)", message: "expected two symbols, got '\(line.prefix(100))'")
            }
            out.append((String(parts[0]), String(parts[1])))
        }
        return out
    }
}
