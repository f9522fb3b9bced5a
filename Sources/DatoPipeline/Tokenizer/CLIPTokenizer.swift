import DatoCore
import DatoModels
import Foundation

/// The CLIP BPE tokenizer of Stable Diffusion (transformers `CLIPTokenizer`): byte-level BPE with `</w>` word
/// ends, begin/end-of-text ids around the prompt, padding to `maxLength` (77) with the pad token (SD 1.x:
/// end-of-text; SD 2.x: `!`), truncation to `maxLength - 2` tokens. Special and added tokens are recognised
/// whole in the prompt, as transformers recognises them.
public final class CLIPTokenizer: @unchecked Sendable {
    /// The BPE vocabulary (token -> id), without added tokens outside it.
    public let vocab: [String: Int]
    private let tables: BPETables
    private let addedTokens: AddedTokenTable
    /// Ids of recent pre-tokens; bounded, so that a long run over many prompts (or a fuzzer) keeps its memory.
    private var cache: [String: [Int]] = [:]
    private let lock = NSLock()
    /// At most this many pre-tokens are cached; the cache starts over when full.
    static let cacheLimit = 4096
    /// Pre-tokens longer than this many UTF-8 bytes are not cached (words are much shorter).
    static let cachedPieceLimit = 64
    /// Begin-of-text id.
    public let bosId: Int
    /// End-of-text id.
    public let eosId: Int
    /// The id that fills a sequence up to `maxLength` (SD 1.x: end-of-text; SD 2.x: `!`, id 0).
    public let padId: Int
    /// The id of a symbol missing from the vocabulary.
    public let unkId: Int
    /// Sequence length including begin/end tokens.
    public let maxLength: Int

    /// The result of tokenising one prompt.
    public struct Encoding: Sendable, Equatable {
        /// Exactly `maxLength` ids: BOS, up to maxLength - 2 tokens, EOS, then padding.
        public let ids: [Int]
        /// The text that did not fit, when the prompt was truncated.
        public let truncatedText: String?
    }

    /// Builds a tokenizer from a vocabulary (token -> id) and a merge list in priority order, with
    /// transformers' default special tokens (`<|startoftext|>`; `<|endoftext|>`, which also pads).
    public convenience init(vocab: [String: Int], merges: [(String, String)], maxLength: Int = 77) throws {
        try self.init(vocab: vocab, merges: merges, specialTokens: SpecialTokens(maxLength: maxLength))
    }

    /// Builds a tokenizer from a vocabulary, a merge list in priority order and its special tokens.
    public convenience init(vocab: [String: Int], merges: [(String, String)], specialTokens: SpecialTokens) throws {
        try self.init(tables: BPETables(vocab: vocab, merges: merges, origin: .api), specialTokens: specialTokens,
                      vocabFile: BPETables.Origin.api.vocabFile)
    }

    /// Builds a tokenizer from checked tables; `vocabFile` names them in errors.
    init(tables: BPETables, specialTokens special: SpecialTokens, vocabFile: String) throws {
        let lengths = 2...SpecialTokens.maxLengthLimit
        guard lengths.contains(special.maxLength) else {
            throw ModelError.config(file: special.source(of: "model_max_length"), field: "model_max_length",
                                    message: "\(special.maxLength) is outside \(lengths.lowerBound)...\(lengths.upperBound)")
        }
        self.tables = tables
        vocab = tables.vocab
        addedTokens = try AddedTokenTable(special: special, tables: tables, vocabFile: vocabFile)
        bosId = addedTokens.bos
        eosId = addedTokens.eos
        padId = addedTokens.pad
        unkId = addedTokens.unk
        maxLength = special.maxLength
    }

    /// The standard CLIP vocabulary (49,408 ids) rebuilt from the bundled merge list, for models that
    /// carry no tokenizer (single-file checkpoints); `specialTokens` sets e.g. SD 2.x's `!` padding.
    public static func builtin(specialTokens: SpecialTokens = SpecialTokens()) throws -> CLIPTokenizer {
        guard let url = Bundle.module.url(forResource: "bpe_simple_vocab_16e6.txt", withExtension: "gz") else {
            throw ModelError.layout(path: "bpe_simple_vocab_16e6.txt.gz", message: "built-in CLIP vocabulary missing from the bundle")
        }
        let text = String(decoding: try Gzip.decompress(Data(contentsOf: url)), as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // Line 0 is a version header; the vocabulary uses the first 49152 - 256 - 2 merges.
        let mergeLines = lines[1..<(49152 - 256 - 2 + 1)].joined(separator: "\n")
        let merges = try parseMerges(mergeLines, file: url.path, skipHeader: false)
        var tokens = ByteLevel.vocabularyOrder.map { String($0) }
        tokens += tokens.map { $0 + "</w>" }
        tokens += merges.map { $0.0 + $0.1 }
        tokens += ["<|startoftext|>", "<|endoftext|>"]
        var vocab: [String: Int] = [:]
        for (i, t) in tokens.enumerated() { vocab[t] = i }
        return try CLIPTokenizer(vocab: vocab, merges: merges, specialTokens: specialTokens)
    }

    /// The token ids of `text` without begin/end tokens, padding or truncation. As in transformers, the added
    /// tokens are found first (in the raw text, or in the normalised text for tokens marked `normalized`),
    /// and the text between them is normalised, split into pre-tokens and byte-pair encoded.
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        for piece in addedTokens.raw.split(Substring(text)) {
            switch piece {
            case .token(let id): ids.append(id)
            case .text(let raw):
                for part in addedTokens.normalized.split(Substring(PreTokenizer.normalize(String(raw)))) {
                    switch part {
                    case .token(let id): ids.append(id)
                    case .text(let normal): ids += PreTokenizer.split(String(normal)).flatMap(bpe)
                    }
                }
            }
        }
        return ids
    }

    /// Tokenises a prompt as diffusers' pipelines do: BOS, at most maxLength - 2 tokens, EOS, then the pad
    /// token up to maxLength. The dropped text, if any, is returned for a warning.
    public func callAsFunction(_ prompt: String) -> Encoding {
        let tokens = encode(prompt)
        let room = maxLength - 2
        let kept = Array(tokens.prefix(room))
        let dropped = tokens.count > room ? decode(Array(tokens[room...])) : nil
        var ids = [bosId] + kept + [eosId]
        ids += Array(repeating: padId, count: maxLength - ids.count)
        return Encoding(ids: ids, truncatedText: dropped)
    }

    /// Text of token ids (word ends become spaces).
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            guard let token = tables.idToToken[id] ?? addedTokens.extraTokens[id] else { continue }
            for ch in token.replacingOccurrences(of: "</w>", with: " ") {
                if ch == " " { bytes.append(32) } else if let b = ByteLevel.decoder[ch] { bytes.append(b) }
            }
        }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    /// The merge priority of a symbol pair (lower merges first), nil if the pair never merges.
    func rank(_ first: String, _ second: String) -> Int? { tables.ranks[BPETables.Pair(first: first, second: second)] }

    /// Byte-pair encoding of one pre-token (cached).
    private func bpe(_ piece: Substring) -> [Int] {
        let key = piece.utf8.count <= Self.cachedPieceLimit ? String(piece) : nil
        if let key {
            lock.lock()
            let hit = cache[key]
            lock.unlock()
            if let hit { return hit }
        }
        var word = ByteLevel.encode(piece)
        guard !word.isEmpty else { return [] }
        word[word.count - 1] += "</w>"
        let ids = BytePairMerge.merge(word, rank: rank).map { vocab[$0] ?? unkId }
        if let key {
            lock.lock()
            if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[key] = ids
            lock.unlock()
        }
        return ids
    }
}
