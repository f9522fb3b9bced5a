/// A token recognised whole in the prompt before byte-pair encoding, as transformers' `AddedToken`: the
/// special tokens (begin/end of text, padding, unknown) and any token added to a vocabulary (e.g. by
/// textual inversion).
public struct AddedToken: Sendable, Equatable, ExpressibleByStringLiteral {
    /// The token's text.
    public var content: String
    /// Its id as the file gives it; nil for a special token named only by its text (its id is looked up).
    public var id: Int?
    /// Matched in the normalised text (NFC, whitespace runs collapsed, lower case) instead of the raw
    /// prompt: `<|ENDOFTEXT|>` is then the token too.
    public var normalized: Bool
    /// Matched only where no word character (letter, digit, `_`) touches it on either side.
    public var singleWord: Bool

    /// A token matched in the raw text anywhere (transformers' default for special tokens).
    public init(_ content: String, id: Int? = nil, normalized: Bool = false, singleWord: Bool = false) {
        self.content = content
        self.id = id
        self.normalized = normalized
        self.singleWord = singleWord
    }

    public init(stringLiteral value: String) { self.init(value) }
}
