import DatoCore
import DatoModels
import Foundation

/// The CLIP BPE tokenizer SD 1.x uses (transformers `CLIPTokenizer`): byte-level BPE with `</w>` word
/// ends, begin/end-of-text ids around the prompt, end-of-text padding to 77, truncation to 75 tokens.
public final class CLIPTokenizer: @unchecked Sendable {
    public let vocab: [String: Int]
    private let ranks: [String: Int]          // "a b" -> merge rank
    private let idToToken: [Int: String]
    /// Ids of recent pre-tokens; bounded, so that a long run over many prompts (or a fuzzer) keeps its memory.
    private var cache: [String: [Int]] = [:]
    private let lock = NSLock()
    /// At most this many pre-tokens are cached; the cache starts over when full.
    static let cacheLimit = 4096
    /// Pre-tokens longer than this many UTF-8 bytes are not cached (words are much shorter).
    static let cachedPieceLimit = 64
    public let bosId: Int
    public let eosId: Int
    /// Sequence length including begin/end tokens.
    public let maxLength: Int

    /// The result of tokenising one prompt.
    public struct Encoding: Sendable, Equatable {
        /// Exactly `maxLength` ids: BOS, up to maxLength - 2 tokens, EOS, EOS padding.
        public let ids: [Int]
        /// The text that did not fit, when the prompt was truncated.
        public let truncatedText: String?
    }

    /// Builds a tokenizer from a vocabulary (token -> id) and a merge list in priority order.
    public init(vocab: [String: Int], merges: [(String, String)], maxLength: Int = 77) throws {
        self.vocab = vocab
        var r: [String: Int] = [:]
        for (i, m) in merges.enumerated() where r["\(m.0) \(m.1)"] == nil { r["\(m.0) \(m.1)"] = i }
        ranks = r
        var inverse: [Int: String] = [:]
        for (k, v) in vocab { inverse[v] = k }
        idToToken = inverse
        guard let bos = vocab["<|startoftext|>"], let eos = vocab["<|endoftext|>"] else {
            throw ModelError.config(file: "tokenizer vocabulary", field: "<|startoftext|>/<|endoftext|>", message: "missing special tokens")
        }
        bosId = bos
        eosId = eos
        self.maxLength = maxLength
    }

    /// Loads `vocab.json` and `merges.txt` from a diffusers `tokenizer/` folder.
    public convenience init(folder: String) throws {
        let vocabPath = "\(folder)/vocab.json", mergesPath = "\(folder)/merges.txt"
        let vData = try Self.readFile(vocabPath, "the tokenizer vocabulary")
        guard let vocab = try? JSONDecoder().decode([String: Int].self, from: vData) else {
            throw ModelError.config(file: vocabPath, field: "(root)", message: "not a JSON object of token ids")
        }
        guard let text = String(data: try Self.readFile(mergesPath, "the tokenizer merges"), encoding: .utf8) else {
            throw ModelError.layout(path: mergesPath, message: "the tokenizer merges are not UTF-8 text")
        }
        try self.init(vocab: vocab, merges: try Self.parseMerges(text, file: mergesPath, skipHeader: true))
    }

    /// A tokenizer file: a regular file (a FIFO or device is refused, not waited on) of at most 64 MiB.
    private static func readFile(_ path: String, _ what: String) throws -> Data {
        do {
            return try RegularFile.read(path, limit: 64 << 20)
        } catch let e as RegularFileError {
            throw ModelError.layout(path: path, message: "cannot read \(what): \(e.reason)")
        }
    }

    /// The standard CLIP vocabulary (49,408 ids) rebuilt from the bundled merge list, for models that
    /// carry no tokenizer (single-file checkpoints).
    public static func builtin() throws -> CLIPTokenizer {
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
        return try CLIPTokenizer(vocab: vocab, merges: merges)
    }

    static func parseMerges(_ text: String, file: String, skipHeader: Bool) throws -> [(String, String)] {
        var out: [(String, String)] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            if skipHeader && n == 0 && line.hasPrefix("#version") { continue }
            let parts = line.split(separator: " ")
            guard parts.count == 2 else {
                throw ModelError.config(file: file, field: "line \(n + 1)", message: "expected two symbols, got '\(line)'")
            }
            out.append((String(parts[0]), String(parts[1])))
        }
        return out
    }

    /// The token ids of `text` without begin/end tokens, padding or truncation.
    public func encode(_ text: String) -> [Int] {
        PreTokenizer.split(PreTokenizer.normalize(text)).flatMap { piece -> [Int] in
            if PreTokenizer.specials.contains(String(piece)), let id = vocab[String(piece)] { return [id] }
            return bpe(piece)
        }
    }

    /// Tokenises a prompt as diffusers' pipelines do: BOS, at most maxLength - 2 tokens, EOS, then EOS
    /// padding to maxLength. The dropped text, if any, is returned for a warning.
    public func callAsFunction(_ prompt: String) -> Encoding {
        let tokens = encode(prompt)
        let room = maxLength - 2
        let kept = Array(tokens.prefix(room))
        let dropped = tokens.count > room ? decode(Array(tokens[room...])) : nil
        var ids = [bosId] + kept + [eosId]
        ids += Array(repeating: eosId, count: maxLength - ids.count)
        return Encoding(ids: ids, truncatedText: dropped)
    }

    /// Text of token ids (word ends become spaces).
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            guard let token = idToToken[id] else { continue }
            for ch in token.replacingOccurrences(of: "</w>", with: " ") {
                if ch == " " { bytes.append(32) } else if let b = ByteLevel.decoder[ch] { bytes.append(b) }
            }
        }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    /// The merge priority of a symbol pair (lower merges first), nil if the pair never merges.
    func rank(_ first: String, _ second: String) -> Int? { ranks["\(first) \(second)"] }

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
        let unk = eosId
        let ids = BytePairMerge.merge(word, rank: rank).map { vocab[$0] ?? unk }
        if let key {
            lock.lock()
            if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[key] = ids
            lock.unlock()
        }
        return ids
    }
}
