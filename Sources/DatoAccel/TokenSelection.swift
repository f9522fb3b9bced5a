import DatoCore

/// A per-row split of a block's N tokens into kept and pruned ones, with the kept token each pruned token
/// copies (DaTo, AT-EDM). Every batch row keeps the same number of tokens.
public struct TokenSelection: TokenReduction {
    /// Per row: kept token indices, ascending.
    public let kept: [[Int]]
    /// Per row and token: the position in `kept` whose value the token takes (its own for kept tokens).
    public let source: [[Int]]
    public var attention = true, crossAttention = false, mlp = false

    /// `kept[b]` ascending; `recovery[b][t]` = token whose kept value pruned token t copies (ignored for kept t).
    public init(kept: [[Int]], recovery: [[Int]], tokens n: Int) {
        self.kept = kept
        source = zip(kept, recovery).map { k, rec in
            var position = [Int](repeating: -1, count: n)
            for (i, t) in k.enumerated() { position[t] = i }
            return (0..<n).map { t in position[t] >= 0 ? position[t] : position[rec[t]] }
        }
    }

    /// Merging only picks the kept rows.
    public var picksRows: Bool { true }

    /// Tokens kept per row.
    public var keptCount: Int { kept.first?.count ?? 0 }

    /// The kept rows of `x` [B, N, C].
    public func merge(_ x: Tensor) -> Tensor { TokenOps.gatherRows(x, index: kept) }

    /// N rows from the kept rows `z` [B, K, C]: kept tokens their own row, pruned tokens their source's.
    public func unmerge(_ z: Tensor) -> Tensor { TokenOps.gatherRows(z, index: source) }
}
