import DatoCore
import Foundation

/// Cross-attention's keys and values of the last context, reused while the context holds the same values: the
/// text embeddings do not change across a generation's denoising steps, so to_k and to_v run once per
/// generation instead of once per step. The context is compared by contents (a copy is kept), never by identity.
final class ContextProjections {
    private var context: Tensor?
    private var keys: Tensor?, values: Tensor?

    /// The keys and values for `context`: the kept ones when its shape and values are those of the last call,
    /// else `compute(context)`'s, which are kept.
    func keysAndValues(for context: Tensor, _ compute: (Tensor) throws -> (Tensor, Tensor)) rethrows -> (Tensor, Tensor) {
        if let kept = self.context, let keys, let values, kept.shape == context.shape,
           memcmp(kept.data, context.data, context.count * MemoryLayout<Float>.stride) == 0 {
            return (keys, values)
        }
        let (k, v) = try compute(context)
        (self.context, keys, values) = (context.copy(), k, v)
        return (k, v)
    }
}
