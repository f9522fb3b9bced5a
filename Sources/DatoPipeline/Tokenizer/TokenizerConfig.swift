import DatoModels
import Foundation

/// The special tokens and sequence length of a tokenizer folder, read as transformers' `from_pretrained` reads
/// them: `tokenizer_config.json` first; then, unless it lists `added_tokens_decoder` (transformers 4.3x),
/// `special_tokens_map.json` over it (older folders, SD 1.x/2.x on the Hub) and the `added_tokens` of
/// `tokenizer.json` (transformers 5). A token may be a plain string or an AddedToken object
/// (`{"content": ..., "normalized": ...}`); a huge `model_max_length` (1e30, transformers' "no limit") means 77.
enum TokenizerConfig {
    static let configName = "tokenizer_config.json"
    static let mapName = "special_tokens_map.json"

    /// The special tokens of `folder`, given its parsed `tokenizer.json` (nil for the vocab.json form).
    static func specialTokens(folder: String, tokenizerJSON: (file: String, content: TokenizerJSON)?) throws -> SpecialTokens {
        func read(_ name: String) throws -> (file: String, data: Data)? {
            let path = "\(folder)/\(name)"
            guard TokenizerFile.exists(path) else { return nil }
            return (path, try TokenizerFile.read(path, limit: TokenizerFile.configLimit, "the tokenizer config"))
        }
        return try specialTokens(config: read(configName), map: read(mapName), tokenizerJSON: tokenizerJSON)
    }

    /// The special tokens given the contents of the files present.
    static func specialTokens(config: (file: String, data: Data)?, map: (file: String, data: Data)?,
                              tokenizerJSON: (file: String, content: TokenizerJSON)?) throws -> SpecialTokens {
        var special = SpecialTokens()
        var listsAddedTokens = false
        if let config {
            let layout = try TokenizerFile.decode(Layout.self, from: config.data, file: config.file)
            try layout.apply(to: &special, file: config.file)
            if let decoder = layout.addedTokensDecoder {
                special.added = try decoder.tokens(file: config.file)
                special.sources["added_tokens"] = config.file
                listsAddedTokens = true
            }
        }
        if !listsAddedTokens {
            if let map { try TokenizerFile.decode(Layout.self, from: map.data, file: map.file).apply(to: &special, file: map.file) }
            if let json = tokenizerJSON {
                special.added = json.content.addedTokens
                special.sources["added_tokens"] = json.file
            }
        }
        if special.sources["pad_token"] == nil, let json = tokenizerJSON, let pad = json.content.padToken {
            special.pad = AddedToken(pad)
            special.sources["pad_token"] = json.file
        }
        return special
    }

    /// The fields read from either file (a null field counts as absent).
    private struct Layout: Decodable {
        let bos, eos, unk, pad: TokenSpec?
        let additional: [TokenSpec]?
        let modelMaxLength: Double?
        let addedTokensDecoder: AddedTokensDecoder?

        enum CodingKeys: String, CodingKey {
            case bos = "bos_token", eos = "eos_token", unk = "unk_token", pad = "pad_token"
            case additional = "additional_special_tokens", modelMaxLength = "model_max_length"
            case addedTokensDecoder = "added_tokens_decoder"
        }

        /// Sets the fields present in this file.
        func apply(to special: inout SpecialTokens, file: String) throws {
            let named: [(WritableKeyPath<SpecialTokens, AddedToken>, TokenSpec?, CodingKeys)] =
                [(\.bos, bos, .bos), (\.eos, eos, .eos), (\.unk, unk, .unk), (\.pad, pad, .pad)]
            for (path, spec, key) in named {
                guard let spec else { continue }
                special[keyPath: path] = try spec.token(file: file, field: key.rawValue)
                special.sources[key.rawValue] = file
            }
            if let additional {
                special.additional = try additional.enumerated().map {
                    try $1.token(file: file, field: "\(CodingKeys.additional.rawValue).\($0)")
                }
                special.sources[CodingKeys.additional.rawValue] = file
            }
            if let modelMaxLength {
                special.maxLength = try sequenceLength(modelMaxLength, file: file)
            }
        }
    }

    /// `model_max_length` as a sequence length: values of 1e18 and above are transformers' "no limit"
    /// sentinels (int(1e30) in old configs) and give CLIP's 77.
    static func sequenceLength(_ value: Double, file: String) throws -> Int {
        if value >= 1e18 { return 77 }
        let range = 2...SpecialTokens.maxLengthLimit
        guard value.rounded() == value, let n = Int(exactly: value), range.contains(n) else {
            throw ModelError.config(file: file, field: "model_max_length",
                                    message: "\(value) is not a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    /// A token given as a string or an AddedToken object.
    private struct TokenSpec: Decodable {
        let content: String
        let normalized: Bool?
        let singleWord: Bool?

        enum CodingKeys: String, CodingKey { case content, normalized, singleWord = "single_word" }

        init(from decoder: Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                content = text
                normalized = nil
                singleWord = nil
                return
            }
            let c: KeyedDecodingContainer<CodingKeys>
            do {
                c = try decoder.container(keyedBy: CodingKeys.self)
            } catch DecodingError.typeMismatch {
                throw DecodingError.typeMismatch(TokenSpec.self, .init(codingPath: decoder.codingPath,
                    debugDescription: "expected a token: a string, or an object with its \"content\""))
            }
            content = try c.decode(String.self, forKey: .content)
            normalized = try c.decodeIfPresent(Bool.self, forKey: .normalized)
            singleWord = try c.decodeIfPresent(Bool.self, forKey: .singleWord)
        }

        /// The token (special tokens are matched in the raw text unless the file says otherwise).
        func token(file: String, field: String) throws -> AddedToken {
            guard !content.isEmpty else { throw ModelError.config(file: file, field: field, message: "is empty") }
            return AddedToken(content, normalized: normalized ?? false, singleWord: singleWord ?? false)
        }
    }

    /// `added_tokens_decoder`: AddedToken objects keyed by id.
    private struct AddedTokensDecoder: Decodable {
        let entries: [String: Entry]

        struct Entry: Decodable {
            let content: String
            let normalized: Bool?
            let special: Bool?
            let singleWord: Bool?

            enum CodingKeys: String, CodingKey { case content, normalized, special, singleWord = "single_word" }
        }

        init(from decoder: Decoder) throws {
            entries = try decoder.singleValueContainer().decode([String: Entry].self)
        }

        /// The tokens in id order; a key must be a token id in plain digits (so "5" and "+5" are not two keys
        /// for one id).
        func tokens(file: String) throws -> [AddedToken] {
            let field = Layout.CodingKeys.addedTokensDecoder.rawValue
            return try entries.map { key, entry in
                guard !key.isEmpty, key.utf8.count <= 7, key.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let id = Int(key) else {
                    throw ModelError.config(file: file, field: "\(field).\(key.prefix(40))", message: "the key is not a token id")
                }
                guard !entry.content.isEmpty else {
                    throw ModelError.config(file: file, field: "\(field).\(id).content", message: "is empty")
                }
                return AddedToken(entry.content, id: id, normalized: entry.normalized ?? !(entry.special ?? false),
                                  singleWord: entry.singleWord ?? false)
            }.sorted { ($0.id ?? 0) < ($1.id ?? 0) }
        }
    }
}
