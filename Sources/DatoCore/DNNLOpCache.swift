import Foundation

/// A layer's oneDNN primitives, one per input shape, made at the first call with that shape. Guarded by a lock,
/// so a layer of a loaded model can be called from several generations at once (an uncontended lock per layer
/// call: no measurable cost).
final class DNNLOpCache: @unchecked Sendable {
    private var ops: [[Int]: DNNLOp] = [:]
    private var lastMade: DNNLOp?
    private let lock = NSLock()

    /// The primitive for `key`, made by `make` (under the lock) if there is none yet.
    func op(_ key: [Int], make: () throws -> DNNLOp) rethrows -> DNNLOp {
        lock.lock(); defer { lock.unlock() }
        if let op = ops[key] { return op }
        let op = try make()
        ops[key] = op
        lastMade = op
        return op
    }

    /// oneDNN's kernel name for the primitive made last (nil before any).
    var lastImplementation: String? {
        lock.lock(); defer { lock.unlock() }
        return lastMade?.implementation
    }
}
