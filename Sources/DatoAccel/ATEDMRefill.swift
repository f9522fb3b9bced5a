import DatoCore
import DatoModels

/// AT-EDM's stream reduction: the block runs on the kept tokens, then every row of the stream is written back;
/// kept rows from the result, pruned rows copy their source's row, or with `copyUpdate` add the source's
/// update (result - before) to their own state.
struct Refill: StreamReduction {
    let selection: TokenSelection
    let copyUpdate: Bool

    func keep(_ x: Tensor) -> Tensor { selection.merge(x) }

    func restore(_ x: Tensor, from h: Tensor, before: Tensor) {
        if copyUpdate {
            let delta = h.copy()
            Elementwise.subtractInPlace(delta, before)
            Elementwise.addInPlace(x, selection.unmerge(delta))
        } else {
            let full = selection.unmerge(h)
            x.data.update(from: full.data, count: full.count)
        }
    }
}

/// AT-EDM's refill with the mask after the FFN: the block ran on every token; kept rows keep their result and
/// pruned rows take their source's (or, with `copyUpdate`, add its update to their own state before the block).
struct FullRefill: StreamReduction {
    let selection: TokenSelection
    let copyUpdate: Bool

    func keep(_ x: Tensor) -> Tensor { x.copy() }

    func restore(_ x: Tensor, from h: Tensor, before: Tensor) {
        let map = zip(selection.kept, selection.source).map { kept, source in source.map { kept[$0] } }
        if copyUpdate {
            let delta = h.copy()
            Elementwise.subtractInPlace(delta, before)
            x.data.update(from: before.data, count: before.count)
            Elementwise.addInPlace(x, TokenOps.gatherRows(delta, index: map))
        } else {
            let full = TokenOps.gatherRows(h, index: map)
            x.data.update(from: full.data, count: full.count)
        }
    }
}
