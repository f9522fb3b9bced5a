/// The special tokens and sequence length of a CLIP tokenizer, as `tokenizer_config.json`,
/// `special_tokens_map.json` and `tokenizer.json` give them; the defaults are transformers' `CLIPTokenizer`
/// defaults, which SD 1.x uses (padding with end-of-text, 77 positions). SD 2.x pads with `!` instead.
public struct SpecialTokens: Sendable, Equatable {
    /// Begin-of-text, put before the prompt's tokens.
    public var bos: AddedToken = "<|startoftext|>"
    /// End-of-text, put after them.
    public var eos: AddedToken = "<|endoftext|>"
    /// The id given to a symbol missing from the vocabulary.
    public var unk: AddedToken = "<|endoftext|>"
    /// Fills the sequence up to `maxLength`.
    public var pad: AddedToken = "<|endoftext|>"
    /// Further special tokens recognised whole (`additional_special_tokens`).
    public var additional: [AddedToken] = []
    /// Tokens the files list with their ids (`added_tokens_decoder`, or `tokenizer.json`'s `added_tokens`);
    /// their settings override those of a special token with the same text.
    public var added: [AddedToken] = []
    /// The sequence length including begin/end tokens (`model_max_length`).
    public var maxLength = 77
    /// The file each field was read from, by field name (`pad_token`, `added_tokens_decoder`, ...), for errors.
    public var sources: [String: String] = [:]

    /// The longest sequence accepted (CLIP uses 77; long-context variants a few hundred).
    public static let maxLengthLimit = 4_096

    /// transformers' defaults: BOS `<|startoftext|>`, EOS, UNK and PAD `<|endoftext|>`, 77 positions.
    public init() {}

    /// The defaults with another sequence length.
    public init(maxLength: Int) { self.maxLength = maxLength }

    /// SD 2.x's tokenizer (stabilityai's `tokenizer_config.json`): the defaults with `!` as the padding token,
    /// for SD 2.x single files, which carry no tokenizer.
    public static var sd2: SpecialTokens {
        var tokens = SpecialTokens()
        tokens.pad = "!"
        return tokens
    }

    /// The file a field came from, or a note that it is the default.
    func source(of field: String) -> String {
        let key = field.split(separator: ".").first.map(String.init) ?? field
        return sources[key] ?? "tokenizer (default \(key))"
    }
}
