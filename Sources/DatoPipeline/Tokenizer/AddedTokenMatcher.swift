/// Splits text at added tokens as the tokenizers library's added vocabulary does: scanning left to right,
/// at each position the longest token that starts there (leftmost-longest, non-overlapping); a single-word
/// token with a letter or digit touching it is passed over, and the scan goes on after it.
struct AddedTokenMatcher: Sendable {
    /// One piece of the split text.
    enum Piece: Equatable {
        case text(Substring)
        case token(Int)
    }

    private struct Entry: Sendable {
        let scalars: [Unicode.Scalar]
        let id: Int
        let singleWord: Bool
    }

    /// The tokens by their first scalar, longest first.
    private let byFirst: [Unicode.Scalar: [Entry]]

    /// A matcher of `tokens` (text and id); empty texts never match.
    init(_ tokens: [(text: String, id: Int, singleWord: Bool)]) {
        var table: [Unicode.Scalar: [Entry]] = [:]
        for t in tokens {
            let scalars = Array(t.text.unicodeScalars)
            guard let first = scalars.first else { continue }
            table[first, default: []].append(Entry(scalars: scalars, id: t.id, singleWord: t.singleWord))
        }
        byFirst = table.mapValues { $0.sorted { $0.scalars.count > $1.scalars.count } }
    }

    var isEmpty: Bool { byFirst.isEmpty }

    /// The text as alternating runs of plain text and matched token ids (empty runs left out).
    func split(_ text: Substring) -> [Piece] {
        guard !byFirst.isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        let scalars = text.unicodeScalars
        var pieces: [Piece] = []
        var runStart = scalars.startIndex, i = scalars.startIndex
        while i < scalars.endIndex {
            guard let (entry, end) = longestMatch(in: scalars, at: i) else {
                i = scalars.index(after: i)
                continue
            }
            if entry.singleWord, touchesWord(scalars, start: i, end: end) {
                i = end
                continue
            }
            if runStart < i { pieces.append(.text(Substring(scalars[runStart..<i]))) }
            pieces.append(.token(entry.id))
            runStart = end
            i = end
        }
        if runStart < scalars.endIndex { pieces.append(.text(Substring(scalars[runStart...]))) }
        return pieces
    }

    /// The longest token starting at `i`, and where it ends.
    private func longestMatch(in scalars: Substring.UnicodeScalarView, at i: Substring.UnicodeScalarView.Index)
        -> (Entry, Substring.UnicodeScalarView.Index)? {
        guard let candidates = byFirst[scalars[i]] else { return nil }
        for entry in candidates {
            var j = i, matched = true
            for s in entry.scalars {
                guard j < scalars.endIndex, scalars[j] == s else { matched = false; break }
                j = scalars.index(after: j)
            }
            if matched { return (entry, j) }
        }
        return nil
    }

    /// Whether a letter or digit directly precedes `start` or follows `end`.
    private func touchesWord(_ scalars: Substring.UnicodeScalarView, start: Substring.UnicodeScalarView.Index,
                             end: Substring.UnicodeScalarView.Index) -> Bool {
        if start > scalars.startIndex, Self.isWordScalar(scalars[scalars.index(before: start)]) { return true }
        return end < scalars.endIndex && Self.isWordScalar(scalars[end])
    }

    /// Letters and digits (Rust's `char::is_alphanumeric`: Alphabetic, or a number category).
    static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
        s.properties.isAlphabetic || PreTokenizer.isNumber(s)
    }
}
