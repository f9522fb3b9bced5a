import Foundation

/// What swift-dato's Winograd F(2x2, 3x3) convolutions (`BF16Winograd`, `FP32Winograd`) share: the geometry they
/// compute and how a call spreads its work items over the workers.
enum Winograd3x3 {
    /// Whether `weight` ([out, in, kh, kw]) with this stride and padding is a 3x3 convolution with stride 1, padding
    /// 1 on every side and at least `minimumChannels` input and output channels.
    static func qualifies(weight: Tensor, stride: Int, padding: (Int, Int, Int, Int), minimumChannels: Int) -> Bool {
        weight.shape.count == 4 && weight.dim(2) == 3 && weight.dim(3) == 3 && stride == 1 && padding == (1, 1, 1, 1)
            && weight.dim(0) >= minimumChannels && weight.dim(1) >= minimumChannels
    }

    /// Runs `body(item, scratch)` for items 0..<count on the workers, each worker with its own `scratchBytes` of
    /// scratch memory (64-byte aligned, from the `BufferPool`).
    static func runItems(_ count: Int, scratchBytes: Int, _ body: (Int, UnsafeMutableRawPointer) -> Void) {
        let workers = max(Parallel.threadCount, 1)
        let scratch = BufferPool.shared.take(bytes: scratchBytes * workers)
        Parallel.items(count) { item, worker in body(item, scratch + worker * scratchBytes) }
        BufferPool.shared.give(scratch, bytes: scratchBytes * workers)
    }
}
