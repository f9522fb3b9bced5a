@testable import DatoPipeline
import Foundation

/// The CLIP tokenizer: prompts, and a model's own `vocab.json` / `merges.txt` or `tokenizer.json` + config.
enum TokenizerTargets {
    /// The bundled vocabulary, built once per process (as `dato` builds it once per run).
    static let builtin: CLIPTokenizer = {
        do { return try CLIPTokenizer.builtin() } catch { FuzzTarget.violation("the bundled tokenizer does not load: \(error)") }
    }()
    /// The ids of the bundled vocabulary.
    static let builtinIds = Set(builtin.vocab.values)

    /// The input as a prompt (UTF-8, invalid sequences replaced), tokenised with the bundled vocabulary as
    /// the pipeline does, then the ids decoded back. The encoding must be `maxLength` known ids starting
    /// with BOS.
    static func prompt(_ data: Data) {
        let tokenizer = builtin
        let encoding = tokenizer(String(decoding: data, as: UTF8.self))
        check(encoding, of: tokenizer, ids: builtinIds)
        _ = tokenizer.decode(encoding.ids)
    }

    /// A model's tokenizer files, split at the input's first NUL byte into `vocab.json` and `merges.txt`, read
    /// as `CLIPTokenizer(folder:)` reads them; a tokenizer that loads encodes a fixed prompt.
    static func files(_ data: Data) {
        let bytes = [UInt8](data)
        let split = bytes.firstIndex(of: 0) ?? bytes.count
        let vocabData = Data(bytes[..<split]), mergesData = Data(bytes[min(split + 1, bytes.count)...])
        guard let vocab = try? JSONDecoder().decode([String: Int].self, from: vocabData),
              let text = String(data: mergesData, encoding: .utf8),
              let merges = try? CLIPTokenizer.parseMerges(text, file: "merges.txt", skipHeader: true),
              let tokenizer = try? CLIPTokenizer(vocab: vocab, merges: merges) else { return }
        let encoding = tokenizer("a photograph of an astronaut riding a horse, <|endoftext|> 12 €")
        check(encoding, of: tokenizer, ids: Set(vocab.values))
        _ = tokenizer.decode(encoding.ids)
    }

    /// A `tokenizer.json` and, after the input's first NUL byte, a `tokenizer_config.json`, read as
    /// `CLIPTokenizer(folder:)` reads a transformers 5 folder; a tokenizer that loads encodes a fixed prompt.
    static func json(_ data: Data) {
        let bytes = [UInt8](data)
        let split = bytes.firstIndex(of: 0)
        let config = split.map { (file: "tokenizer_config.json", data: Data(bytes[($0 + 1)...])) }
        guard let json = try? TokenizerJSON.parse(Data(bytes[..<(split ?? bytes.count)]), file: "tokenizer.json"),
              let special = try? TokenizerConfig.specialTokens(config: config, map: nil, tokenizerJSON: ("tokenizer.json", json)),
              let tables = try? BPETables(vocab: json.vocab, merges: json.merges, origin: .api),
              let tokenizer = try? CLIPTokenizer(tables: tables, specialTokens: special, vocabFile: "tokenizer.json") else { return }
        let encoding = tokenizer("a photograph of an astronaut riding a horse!! <|endoftext|> 12 € <|ENDOFTEXT|> sks")
        let added = json.vocab.count..<(json.vocab.count + special.added.count)   // the listed tokens outside the vocabulary
        check(encoding, of: tokenizer, ids: Set(json.vocab.values).union(added))
        _ = tokenizer.decode(encoding.ids)
    }

    /// Stops the process unless `encoding` is `maxLength` ids of the vocabulary, starting with BOS.
    static func check(_ encoding: CLIPTokenizer.Encoding, of tokenizer: CLIPTokenizer, ids known: Set<Int>) {
        guard encoding.ids.count == tokenizer.maxLength, encoding.ids.first == tokenizer.bosId,
              encoding.ids.allSatisfy(known.contains) else {
            FuzzTarget.violation("the encoding \(encoding.ids) is not \(tokenizer.maxLength) vocabulary ids starting with BOS")
        }
    }
}
