import Foundation

/// A dense fp32 tensor in row-major order.
///
/// Feature maps are NHWC (`[batch, height, width, channels]`) and token sequences are
/// `[batch, tokens, channels]`, so the convolution path and the transformer path share memory
/// without transposes. The storage is a 64-byte aligned buffer owned by the tensor.
public final class Tensor: @unchecked Sendable {
    /// The logical shape, outermost first.
    public private(set) var shape: [Int]
    /// The number of elements.
    public let count: Int
    /// The element storage, `count` floats.
    public let data: UnsafeMutablePointer<Float>

    /// Allocates a tensor of `shape`, zero-filled when `zeroed` is true (else contents are undefined).
    public init(shape: [Int], zeroed: Bool = true) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        data = BufferPool.shared.take(bytes: count * MemoryLayout<Float>.stride)
            .bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { data.initialize(repeating: 0, count: count) }
    }

    /// A tensor holding a copy of `values` with the given shape.
    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape, zeroed: false)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { if let b = $0.baseAddress { data.update(from: b, count: count) } }
    }

    deinit { BufferPool.shared.give(UnsafeMutableRawPointer(data), bytes: count * MemoryLayout<Float>.stride) }

    /// The size of dimension `i`; negative indices count from the end.
    public func dim(_ i: Int) -> Int { shape[i < 0 ? shape.count + i : i] }

    /// The elements as an array (copy).
    public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// Element access by flat index.
    public subscript(i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }

    /// Changes the shape without moving data; the element count must not change.
    public func reshape(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        shape = newShape
        return self
    }

    /// A deep copy.
    public func copy() -> Tensor {
        let t = Tensor(shape: shape, zeroed: false)
        t.data.update(from: data, count: count)
        return t
    }

    /// Fills with a constant.
    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    /// The largest absolute value (0 for an empty tensor).
    public var maxAbs: Float {
        var m: Float = 0
        for i in 0..<count { m = max(m, abs(data[i])) }
        return m
    }

    /// True when every element is finite.
    public var allFinite: Bool {
        for i in 0..<count where !data[i].isFinite { return false }
        return true
    }
}
