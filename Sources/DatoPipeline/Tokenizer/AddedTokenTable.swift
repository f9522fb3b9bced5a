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

    /// The tokens resolved so far, in order, with their ids.
    private struct Resolved {
        var ids: [String: Int] = [:]
        var tokens: [(token: AddedToken, id: Int)] = []

        mutating func add(_ token: AddedToken, _ id: Int) {
            ids[token.content] = id
            tokens.append((token, id))
        }
    }

    init(special: SpecialTokens, tables: BPETables, vocabFile: String) throws {
        var resolved = Resolved()
        var extra: [Int: String] = [:]
        try Self.addListed(special, tables: tables, vocabFile: vocabFile, to: &resolved, extra: &extra)
        func resolve(_ token: AddedToken, field: String) throws -> Int {
            if let id = resolved.ids[token.content] { return id }
            guard let id = tables.vocab[token.content] else {
                throw ModelError.config(file: special.source(of: field), field: field,
                                        message: "'\(token.content.prefix(60))' is neither in the vocabulary (\(vocabFile)) nor an added token")
            }
            resolved.add(token, id)
            return id
        }
        bos = try resolve(special.bos, field: "bos_token")
        eos = try resolve(special.eos, field: "eos_token")
        unk = try resolve(special.unk, field: "unk_token")
        pad = try resolve(special.pad, field: "pad_token")
        for (i, token) in special.additional.enumerated() {
            _ = try resolve(token, field: "additional_special_tokens.\(i)")
        }
        raw = AddedTokenMatcher(resolved.tokens.filter { !$0.token.normalized }.map { ($0.token.content, $0.id, $0.token.singleWord) })
        normalized = AddedTokenMatcher(resolved.tokens.filter(\.token.normalized).map {
            (PreTokenizer.normalize($0.token.content), $0.id, $0.token.singleWord)
        })
        extraTokens = extra
    }

    /// Adds the tokens the files list with their ids, checking the ids.
    private static func addListed(_ special: SpecialTokens, tables: BPETables, vocabFile: String,
                                  to resolved: inout Resolved, extra: inout [Int: String]) throws {
        let file = special.source(of: "added_tokens")
        var next = tables.vocab.count
        for (i, token) in special.added.enumerated() {
            func bad(_ message: String) -> ModelError {
                .config(file: file, field: "added token \(i) '\(token.content.prefix(60))'", message: message)
            }
            guard resolved.ids[token.content] == nil else { throw bad("is listed twice") }
            if let known = tables.vocab[token.content] {
                guard token.id == nil || token.id == known else {
                    throw bad("has id \(token.id ?? known), but the vocabulary (\(vocabFile)) gives it \(known)")
                }
                resolved.add(token, known)
            } else {
                guard token.id == nil || token.id == next, tables.idToToken[next] == nil, next < TokenizerFile.idLimit else {
                    throw bad("has id \(token.id ?? next); a token outside the vocabulary (\(vocabFile)) must take the next free id after it, \(next)")
                }
                resolved.add(token, next)
                extra[next] = token.content
                next += 1
            }
        }
    }
}
