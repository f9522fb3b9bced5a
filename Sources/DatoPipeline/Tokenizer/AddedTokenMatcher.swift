/// Splits text at added tokens as the tokenizers library's added vocabulary does: scanning left to right,
/// at each position the longest token that starts there (leftmost-longest, non-overlapping); a single-word
/// token with a word character (letter, digit, `_`) touching it is passed over, and the scan goes on after it.
struct AddedTokenMatcher: Sendable {
    /// One piece of the split text.
    enum Piece: Equatable {
        case text(Substring)
        case token(Int)
    }

    /// A node of the token trie: its children by next scalar, and the token ending here, if any.
    private struct Node: Sendable {
        var children: [Unicode.Scalar: Int] = [:]
        var token: (id: Int, singleWord: Bool)?
    }

    /// The tokens as a trie over their scalars (node 0 is the root), so that finding the longest token at a
    /// position costs at most the length of that token, however many tokens there are.
    private var nodes = [Node()]

    /// A matcher of `tokens` (text and id); empty texts never match; of two equal texts the first counts.
    init(_ tokens: [(text: String, id: Int, singleWord: Bool)]) {
        for t in tokens where !t.text.isEmpty {
            var node = 0
            for s in t.text.unicodeScalars {
                if let child = nodes[node].children[s] {
                    node = child
                } else {
                    nodes.append(Node())
                    nodes[node].children[s] = nodes.count - 1
                    node = nodes.count - 1
                }
            }
            if nodes[node].token == nil { nodes[node].token = (t.id, t.singleWord) }
        }
    }

    var isEmpty: Bool { nodes.count == 1 }

    /// The text as alternating runs of plain text and matched token ids (empty runs left out).
    func split(_ text: Substring) -> [Piece] {
        guard !isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        let scalars = text.unicodeScalars
        var pieces: [Piece] = []
        var runStart = scalars.startIndex, i = scalars.startIndex
        while i < scalars.endIndex {
            guard let (token, end) = longestMatch(in: scalars, at: i) else {
                i = scalars.index(after: i)
                continue
            }
            if token.singleWord, touchesWord(scalars, start: i, end: end) {
                i = end
                continue
            }
            if runStart < i { pieces.append(.text(Substring(scalars[runStart..<i]))) }
            pieces.append(.token(token.id))
            runStart = end
            i = end
        }
        if runStart < scalars.endIndex { pieces.append(.text(Substring(scalars[runStart...]))) }
        return pieces
    }

    /// The longest token starting at `i`, and where it ends.
    private func longestMatch(in scalars: Substring.UnicodeScalarView, at i: Substring.UnicodeScalarView.Index)
        -> ((id: Int, singleWord: Bool), Substring.UnicodeScalarView.Index)? {
        var node = 0, j = i
        var best: ((id: Int, singleWord: Bool), Substring.UnicodeScalarView.Index)?
        while j < scalars.endIndex, let child = nodes[node].children[scalars[j]] {
            node = child
            j = scalars.index(after: j)
            if let token = nodes[node].token { best = (token, j) }
        }
        return best
    }

    /// Whether a word character directly precedes `start` or follows `end`.
    private func touchesWord(_ scalars: Substring.UnicodeScalarView, start: Substring.UnicodeScalarView.Index,
                             end: Substring.UnicodeScalarView.Index) -> Bool {
        if start > scalars.startIndex, Self.isWordScalar(scalars[scalars.index(before: start)]) { return true }
        return end < scalars.endIndex && Self.isWordScalar(scalars[end])
    }

    /// Word characters as the tokenizers library's `\w` sees them: Alphabetic, marks, decimal digits,
    /// connector punctuation (`_`) and the joiners U+200C/U+200D.
    static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
        if s.properties.isAlphabetic || s.properties.isJoinControl { return true }
        switch s.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
