import DatoModels

/// A tokenizer's added tokens resolved against its vocabulary: the ids of the special tokens, and the
/// matchers that find added tokens in a prompt (in the raw text, or after normalisation, per token).
///
/// A listed token already in the vocabulary must carry its vocabulary id; the others take the ids after the
/// vocabulary's, in order, as transformers assigns them. A special token must be in the vocabulary or listed.
struct AddedTokenTable: Sendable {
    let bos: Int, eos: Int, unk: Int, pad: Int
    /// Tokens matched in the raw prompt.
    let raw: AddedTokenMatcher
    /// Tokens matched in each normalised piece of it.
    let normalized: AddedTokenMatcher
    /// The added tokens outside the vocabulary, for decoding.
    let extraTokens: [Int: String]

    init(special: SpecialTokens, tables: BPETables, vocabFile: String) throws {
        var table: [String: (token: AddedToken, id: Int)] = [:]
        var order: [String] = []
        var extra: [Int: String] = [:]
        let listFile = special.source(of: "added_tokens")
        var next = tables.vocab.count
        for (i, token) in special.added.enumerated() {
            func bad(_ message: String) -> ModelError {
                .config(file: listFile, field: "added token \(i) '\(token.content.prefix(60))'", message: message)
            }
            guard table[token.content] == nil else { throw bad("is listed twice") }
            let id: Int
            if let known = tables.vocab[token.content] {
                guard token.id == nil || token.id == known else {
                    throw bad("has id \(token.id ?? known), but the vocabulary (\(vocabFile)) gives it \(known)")
                }
                id = known
            } else {
                guard token.id == nil || token.id == next, tables.idToToken[next] == nil, next < TokenizerFile.idLimit else {
                    throw bad("has id \(token.id ?? next); a token outside the vocabulary (\(vocabFile)) must take the next free id after it, \(next)")
                }
                id = next
                extra[id] = token.content
                next += 1
            }
            table[token.content] = (token, id)
            order.append(token.content)
        }
        func resolve(_ token: AddedToken, field: String) throws -> Int {
            if let entry = table[token.content] { return entry.id }
            guard let id = tables.vocab[token.content] else {
                throw ModelError.config(file: special.source(of: field), field: field,
                                        message: "'\(token.content.prefix(60))' is neither in the vocabulary (\(vocabFile)) nor an added token")
            }
            table[token.content] = (token, id)
            order.append(token.content)
            return id
        }
        bos = try resolve(special.bos, field: "bos_token")
        eos = try resolve(special.eos, field: "eos_token")
        unk = try resolve(special.unk, field: "unk_token")
        pad = try resolve(special.pad, field: "pad_token")
        for (i, token) in special.additional.enumerated() {
            _ = try resolve(token, field: "additional_special_tokens.\(i)")
        }
        let entries = order.compactMap { table[$0] }
        raw = AddedTokenMatcher(entries.filter { !$0.token.normalized }.map { ($0.token.content, $0.id, $0.token.singleWord) })
        normalized = AddedTokenMatcher(entries.filter(\.token.normalized).map {
            (PreTokenizer.normalize($0.token.content), $0.id, $0.token.singleWord)
        })
        extraTokens = extra
    }
}
