import DatoCore
import Foundation

/// Cross-attention's keys and values of the last context, reused while the context holds the same values: the
/// text embeddings do not change across a generation's denoising steps, so to_k and to_v run once per
/// generation instead of once per step. The context is compared by contents (a copy is kept), never by identity.
final class ContextProjections {
    private var context: Tensor?
    private var kept: Any?

    /// The keys and values for `context`: the kept ones when its shape and values are those of the last call and
    /// they have the type asked for (fp32 or bf16 tensors), else `compute(context)`'s, which are kept.
    func keysAndValues<T>(for context: Tensor, _ compute: (Tensor) throws -> (T, T)) rethrows -> (T, T) {
        if let last = self.context, let kv = kept as? (T, T), last.shape == context.shape,
           memcmp(last.data, context.data, context.count * MemoryLayout<Float>.stride) == 0 {
            return kv
        }
        let kv = try compute(context)
        (self.context, kept) = (context.copy(), kv)
        return kv
    }
}
