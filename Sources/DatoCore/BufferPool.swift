import CDatoDNNL
import CDatoKernels
import Foundation

/// Recycles tensor buffers by size class, so the same activations re-use memory from call to call
/// instead of taking fresh pages from the kernel (whose first-touch faults cost about 1 s per SD UNet
/// call at 512 px). Buffers are 64-byte aligned. The pool keeps at most `limitBytes` of idle memory.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()

    /// Idle memory kept for re-use; beyond it, released buffers go back to the system.
    var limitBytes = 4 << 30
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private var idleBytes = 0
    private let lock = NSLock()

    /// Size classes: small buffers exact to 64 bytes, large ones rounded up to 1/8 of their power of two.
    static func sizeClass(_ bytes: Int) -> Int {
        let b = max(64, (bytes + 63) & ~63)
        if b <= 1 << 16 { return b }
        let step = 1 << (Int.bitWidth - b.leadingZeroBitCount - 4)
        return (b + step - 1) / step * step
    }

    func take(bytes: Int) -> UnsafeMutableRawPointer {
        let size = Self.sizeClass(bytes)
        lock.lock()
        if let p = free[size]?.popLast() {
            idleBytes -= size
            lock.unlock()
            return p
        }
        lock.unlock()
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
    }

    /// Sets the idle-memory limit, returning the previous one.
    func swapLimit(_ bytes: Int) -> Int {
        lock.lock(); defer { lock.unlock() }
        let old = limitBytes
        limitBytes = bytes
        return old
    }

    /// Returns every idle buffer to the system.
    func drain() {
        lock.lock()
        let idle = free
        free = [:]
        idleBytes = 0
        lock.unlock()
        for buffers in idle.values { buffers.forEach { $0.deallocate() } }
    }

    func give(_ p: UnsafeMutableRawPointer, bytes: Int) {
        let size = Self.sizeClass(bytes)
        lock.lock()
        if idleBytes + size <= limitBytes {
            free[size, default: []].append(p)
            idleBytes += size
            lock.unlock()
        } else {
            lock.unlock()
            p.deallocate()
        }
    }
}

/// Memory housekeeping for callers of the compute core.
public enum Memory {
    /// Runs `body` (e.g. loading a model) with released tensor buffers going straight back to the system
    /// instead of being kept for re-use, so source tensors do not pile up, then releases what is idle.
    public static func withoutPooling<T>(_ body: () throws -> T) rethrows -> T {
        let pool = BufferPool.shared
        let limit = pool.swapLimit(0)
        defer { _ = pool.swapLimit(limit); releaseIdleBuffers() }
        return try body()
    }

    /// Gives the tensor buffers kept for re-use, and the allocator's free pages, back to the system. Worth
    /// calling after loading a model: its source tensors (fp32 weights, about 3.4 GB for an SD UNet) are idle
    /// once the layers hold their own copies (bf16 ones in a bf16 model).
    public static func releaseIdleBuffers() {
        BufferPool.shared.drain()
        dato_dnnl_release_buffers()
        dato_release_free_memory()
    }
}
