import Foundation

/// CLIP's text normalisation and pre-tokenisation, as the reference tokenizer applies them:
/// NFC, runs of whitespace to one space, lower case; then the pieces matched by
/// `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
/// (leftmost alternative first), with everything unmatched (whitespace) dropped. The pieces then go through
/// the byte-level pre-tokenizer's GPT-2 pattern, which changes only the two special-token literals (they
/// reach this point only when not recognised as special tokens, e.g. in upper case): `<|`, name, `|>`.
enum PreTokenizer {
    static let specials = ["<|startoftext|>", "<|endoftext|>"]
    static let contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]

    static func normalize(_ text: String) -> String {
        let nfc = text.precomposedStringWithCanonicalMapping
        var out = String.UnicodeScalarView()
        var inSpace = false
        for s in nfc.unicodeScalars {
            if s.properties.isWhitespace {
                if !inSpace { out.append(" ") }
                inSpace = true
            } else {
                out.append(s)
                inSpace = false
            }
        }
        return String(out).lowercased()
    }

    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// Splits normalised text into pre-tokens.
    static func split(_ text: String) -> [Substring] {
        let scalars = text.unicodeScalars
        var pieces: [Substring] = []
        var i = scalars.startIndex
        func hasPrefix(_ p: String, at idx: String.UnicodeScalarView.Index) -> Bool {
            var j = idx
            for c in p.unicodeScalars {
                guard j < scalars.endIndex, scalars[j] == c else { return false }
                j = scalars.index(after: j)
            }
            return true
        }
        outer: while i < scalars.endIndex {
            for literal in specials + contractions where hasPrefix(literal, at: i) {
                let end = scalars.index(i, offsetBy: literal.unicodeScalars.count)
                if literal.hasPrefix("<|") {
                    // The byte-level step's GPT-2 pattern splits the literal again: "<|", the name, "|>".
                    let nameStart = scalars.index(i, offsetBy: 2), nameEnd = scalars.index(end, offsetBy: -2)
                    pieces += [Substring(scalars[i..<nameStart]), Substring(scalars[nameStart..<nameEnd]),
                               Substring(scalars[nameEnd..<end])]
                } else {
                    pieces.append(Substring(scalars[i..<end]))
                }
                i = end
                continue outer
            }
            let s = scalars[i]
            if s.properties.isWhitespace {
                i = scalars.index(after: i)
                continue
            }
            var end = scalars.index(after: i)
            if isLetter(s) {
                while end < scalars.endIndex, isLetter(scalars[end]) { end = scalars.index(after: end) }
            } else if !isNumber(s) {
                while end < scalars.endIndex, !scalars[end].properties.isWhitespace, !isLetter(scalars[end]),
                      !isNumber(scalars[end]) {
                    end = scalars.index(after: end)
                }
            }
            pieces.append(Substring(scalars[i..<end]))
            i = end
        }
        return pieces
    }
}
