import DatoModels

/// A BPE vocabulary and its merge list, checked against each other as the tokenizers library checks them when
/// transformers loads a tokenizer: every id non-negative (and below `TokenizerFile.idLimit`), no id given to
/// two tokens, and both symbols of every merge and their concatenation in the vocabulary. When a pair is
/// listed more than once its last rank counts, as in tokenizers.
struct BPETables: Sendable {
    /// A pair of adjacent symbols.
    struct Pair: Hashable, Sendable {
        let first: String, second: String
    }

    /// Where the tables came from, for error messages.
    struct Origin {
        var vocabFile: String
        /// The vocabulary's path inside its file (`model.vocab`; empty for a whole `vocab.json`).
        var vocabField: String
        var mergesFile: String
        /// The name of merge `i` (counted from 0) in its file.
        var mergeField: (Int) -> String

        /// Tables given directly through the API.
        static let api = Origin(vocabFile: "tokenizer vocabulary", vocabField: "", mergesFile: "tokenizer merges",
                                mergeField: { "merge \($0 + 1)" })

        /// The field naming one token of the vocabulary.
        func vocabField(_ token: String) -> String {
            let shown = token.count > 60 ? "\(token.prefix(60))..." : token
            return vocabField.isEmpty ? shown : "\(vocabField).\(shown)"
        }
    }

    let vocab: [String: Int]
    let idToToken: [Int: String]
    let ranks: [Pair: Int]

    init(vocab: [String: Int], merges: [(String, String)], origin: Origin) throws {
        self.vocab = vocab
        idToToken = try Self.inverse(vocab, origin: origin)
        var ranks: [Pair: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (i, (a, b)) in merges.enumerated() {
            for symbol in [a, b, a + b] where vocab[symbol] == nil {
                throw ModelError.config(file: origin.mergesFile, field: origin.mergeField(i),
                                        message: "merges '\(a)' and '\(b)', but '\(symbol)' is not in the vocabulary (\(origin.vocabFile))")
            }
            ranks[Pair(first: a, second: b)] = i
        }
        self.ranks = ranks
    }

    /// id -> token; an id out of range or given to two tokens is refused (the lowest such id is named).
    private static func inverse(_ vocab: [String: Int], origin: Origin) throws -> [Int: String] {
        var inverse: [Int: String] = [:]
        inverse.reserveCapacity(vocab.count)
        var bad: (id: Int, token: String, message: String)?
        func note(_ id: Int, _ token: String, _ message: String) {
            if let b = bad, (b.id, b.token) <= (id, token) { return }
            bad = (id, token, message)
        }
        for (token, id) in vocab {
            guard (0..<TokenizerFile.idLimit).contains(id) else {
                note(id, token, "id \(id) is outside 0..<\(TokenizerFile.idLimit)")
                continue
            }
            if let other = inverse[id] {
                let (a, b) = token < other ? (token, other) : (other, token)
                note(id, a, "id \(id) is given to both '\(a)' and '\(b)'")
            } else {
                inverse[id] = token
            }
        }
        if let bad { throw ModelError.config(file: origin.vocabFile, field: origin.vocabField(bad.token), message: bad.message) }
        return inverse
    }
}
