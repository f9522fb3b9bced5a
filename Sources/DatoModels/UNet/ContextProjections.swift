import DatoCore
import Foundation

/// Cross-attention's keys and values of the last few contexts, reused while a context holds the same values:
/// the text embeddings do not change across a generation's denoising steps, so to_k and to_v run once per
/// generation instead of once per step. The context is compared by contents (a copy is kept), never by identity.
///
/// A documented cache on a loaded model, safe under concurrent calls: a lock guards the entries, and it keeps
/// `capacity` of them so generations running at the same time with different prompts do not evict each other.
/// Kept tensors are only read after they are made.
final class ContextProjections: @unchecked Sendable {
    /// Contexts remembered at once (one per generation running concurrently, typically).
    static let capacity = 4
    private var entries: [(context: Tensor, kept: Any)] = []
    private let lock = NSLock()

    /// The keys and values for `context`: the kept ones when its shape and values are those of a remembered
    /// call and they have the type asked for (fp32 or bf16 tensors), else `compute(context)`'s, which are kept.
    func keysAndValues<T>(for context: Tensor, _ compute: (Tensor) throws -> (T, T)) rethrows -> (T, T) {
        if let kv: (T, T) = lookup(context) { return kv }
        let kv = try compute(context)
        lock.lock(); defer { lock.unlock() }
        entries.removeAll { $0.context.shape == context.shape && $0.kept is (T, T) && Self.same($0.context, context) }
        if entries.count >= Self.capacity { entries.removeFirst() }
        entries.append((context.copy(), kv))
        return kv
    }

    /// The kept keys and values for a context with these values, most recent first.
    private func lookup<T>(_ context: Tensor) -> (T, T)? {
        lock.lock(); defer { lock.unlock() }
        for entry in entries.reversed() {
            if let kv = entry.kept as? (T, T), entry.context.shape == context.shape, Self.same(entry.context, context) {
                return kv
            }
        }
        return nil
    }

    private static func same(_ a: Tensor, _ b: Tensor) -> Bool {
        memcmp(a.data, b.data, a.count * MemoryLayout<Float>.stride) == 0
    }
}
