import CDatoKernels

/// Activations that convolutions and linear layers take as input: an fp32 `Tensor`, or a `BF16Tensor` that its
/// producer (a norm, GEGLU, the attention, a projection) wrote in bf16 because the layers reading it compute in
/// bf16.
public protocol LayerInput: AnyObject {
    /// The logical shape, outermost first.
    var shape: [Int] { get }
    /// The number of elements.
    var count: Int { get }
    /// The values as an fp32 tensor (the tensor itself when it is one).
    func widened() -> Tensor
    /// The first element and the element format: bf16 values, or fp32 ones.
    var storage: (base: UnsafeRawPointer, bf16: Bool) { get }
    /// The channels (last dimension) in `range` as a new dense input of the same format.
    func channels(_ range: Range<Int>) -> any LayerInput
}

extension LayerInput {
    /// The size of dimension `i`; negative indices count from the end.
    public func dim(_ i: Int) -> Int { shape[i < 0 ? shape.count + i : i] }
}

extension Tensor: LayerInput {
    public func widened() -> Tensor { self }
    public var storage: (base: UnsafeRawPointer, bf16: Bool) { (UnsafeRawPointer(data), false) }
    public func channels(_ range: Range<Int>) -> any LayerInput { TokenOps.sliceChannels(self, range) }
}

/// A dense row-major tensor of bf16 values (the upper 16 bits of an fp32), handed from a producer to bf16 layers
/// so that each of them does not convert the same fp32 input again. Storage comes from the buffer pool.
public final class BF16Tensor: LayerInput, @unchecked Sendable {
    public let shape: [Int]
    public let count: Int
    /// The element storage, `count` bf16 values.
    public let data: UnsafeMutablePointer<UInt16>

    /// Allocates a tensor of `shape` with undefined contents.
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        data = BufferPool.shared.take(bytes: count * 2).bindMemory(to: UInt16.self, capacity: max(count, 1))
    }

    /// `x` rounded to bf16 (to nearest, ties to even).
    public convenience init(rounding x: Tensor) {
        self.init(shape: x.shape)
        let src = x.data, dst = data
        Parallel.chunks(count, minimumPerThread: 4096) { r in
            dato_to_bf16(src + r.lowerBound, r.count, 1, dst + r.lowerBound)
        }
    }

    deinit { BufferPool.shared.give(UnsafeMutableRawPointer(data), bytes: count * 2) }

    public var storage: (base: UnsafeRawPointer, bf16: Bool) { (UnsafeRawPointer(data), true) }
    public func channels(_ range: Range<Int>) -> any LayerInput { sliceChannels(range) }

    /// The bf16 bit patterns as an array (copy).
    public var array: [UInt16] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The values widened to fp32 (exact).
    public func widened() -> Tensor {
        let out = Tensor(shape: shape, zeroed: false)
        for i in 0..<count { out.data[i] = Float(bitPattern: UInt32(data[i]) << 16) }
        return out
    }

    /// Rows `range` of the tensor viewed as [rows, last dimension], as a new [range.count, last] tensor.
    public func rows(_ range: Range<Int>) -> BF16Tensor {
        let c = dim(-1)
        precondition(range.lowerBound >= 0 && range.upperBound * c <= count, "rows \(range) of \(shape)")
        let out = BF16Tensor(shape: [range.count, c])
        out.data.update(from: data + range.lowerBound * c, count: range.count * c)
        return out
    }

    /// The channels (last dimension) in `range` as a new dense tensor.
    public func sliceChannels(_ range: Range<Int>) -> BF16Tensor {
        let out = BF16Tensor(shape: TokenOps.slicedShape(shape, range))
        TokenOps.copyChannels(data, shape: shape, range, to: out.data)
        return out
    }
}
