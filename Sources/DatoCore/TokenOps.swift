/// Layout kernels: resizing, channel concatenation and gather/scatter of token rows.
public enum TokenOps {
    /// Nearest-neighbour resize of NHWC `x` to `h x w` (torch's `interpolate(mode="nearest")`);
    /// the default doubles each side.
    public static func upsampleNearest(_ x: Tensor, to size: (Int, Int)? = nil) -> Tensor {
        let n = x.dim(0), ih = x.dim(1), iw = x.dim(2), c = x.dim(3)
        let (oh, ow) = size ?? (ih * 2, iw * 2)
        let out = Tensor(shape: [n, oh, ow, c], zeroed: false)
        let sh = Float(ih) / Float(oh), sw = Float(iw) / Float(ow)
        func source(_ o: Int, _ i: Int, _ outSize: Int, _ s: Float) -> Int {
            outSize == 2 * i ? o >> 1 : min(Int((Float(o) * s).rounded(.down)), i - 1)
        }
        let src = x.data, dst = out.data
        Parallel.chunks(n * oh, minimumPerThread: 4) { r in
            for row in r {
                let b = row / oh, y = row % oh
                let sy = source(y, ih, oh, sh)
                for xo in 0..<ow {
                    let sx = source(xo, iw, ow, sw)
                    (dst + (row * ow + xo) * c).update(from: src + ((b * ih + sy) * iw + sx) * c, count: c)
                }
            }
        }
        return out
    }

    /// Concatenates tensors along the last (channel) axis; all other dimensions must agree.
    public static func concatChannels(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty)
        let rows = parts[0].count / parts[0].dim(-1)
        precondition(parts.allSatisfy { $0.count / $0.dim(-1) == rows }, "concat: \(parts.map(\.shape))")
        let total = parts.reduce(0) { $0 + $1.dim(-1) }
        var shape = parts[0].shape
        shape[shape.count - 1] = total
        let out = Tensor(shape: shape, zeroed: false)
        let dst = out.data
        Parallel.chunks(rows, minimumPerThread: 64) { r in
            for row in r {
                var offset = 0
                for p in parts {
                    let c = p.dim(-1)
                    (dst + row * total + offset).update(from: p.data + row * c, count: c)
                    offset += c
                }
            }
        }
        return out
    }

    /// The channels `range` of x (last axis) as a new tensor.
    public static func sliceChannels(_ x: Tensor, _ range: Range<Int>) -> Tensor {
        let out = Tensor(shape: slicedShape(x.shape, range), zeroed: false)
        copyChannels(x.data, shape: x.shape, range, to: out.data)
        return out
    }

    /// `shape` with its last dimension (channels) narrowed to `range`, which must lie within it.
    static func slicedShape(_ shape: [Int], _ range: Range<Int>) -> [Int] {
        let c = shape.last ?? 0
        precondition(range.lowerBound >= 0 && range.upperBound <= c, "slice \(range) of \(c) channels")
        var out = shape
        out[out.count - 1] = range.count
        return out
    }

    /// Copies the channels `range` of every row of a `shape` tensor at `src` into dense rows at `dst` (any element
    /// type: fp32 and bf16 tensors share it).
    static func copyChannels<T>(_ src: UnsafePointer<T>, shape: [Int], _ range: Range<Int>, to dst: UnsafeMutablePointer<T>) {
        let c = shape.last ?? 1, rows = shape.reduce(1, *) / max(c, 1), width = range.count
        let first = src + range.lowerBound
        Parallel.chunks(rows, minimumPerThread: 64) { r in
            for row in r { (dst + row * width).update(from: first + row * c, count: width) }
        }
    }

    /// Gathers token rows: out[b, i, :] = x[b, index[b][i], :]. Every batch row takes the same count.
    public static func gatherRows(_ x: Tensor, index: [[Int]]) -> Tensor {
        let b = x.dim(0), n = x.dim(1), c = x.dim(-1)
        precondition(index.count == b, "gather: \(index.count) index rows for batch \(b)")
        let k = index.first?.count ?? 0
        precondition(index.allSatisfy { $0.count == k && $0.allSatisfy { (0..<n).contains($0) } },
                     "gather: ragged or out-of-range index")
        let out = Tensor(shape: [b, k, c], zeroed: false)
        for bi in 0..<b {
            let src = x.data + bi * n * c, dst = out.data + bi * k * c
            let idx = index[bi]
            Parallel.chunks(k, minimumPerThread: 64) { r in
                for i in r { (dst + i * c).update(from: src + idx[i] * c, count: c) }
            }
        }
        return out
    }

    /// Scatters token rows: x[b, index[b][i], :] = rows[b, i, :]; other rows of `x` are left alone.
    public static func scatterRows(_ rows: Tensor, into x: Tensor, index: [[Int]]) {
        let b = x.dim(0), n = x.dim(1), c = x.dim(-1), k = rows.dim(1)
        precondition(index.count == b && rows.dim(0) == b && rows.dim(-1) == c, "scatter: shapes")
        precondition(index.allSatisfy { $0.count == k && $0.allSatisfy { (0..<n).contains($0) } },
                     "scatter: ragged or out-of-range index")
        for bi in 0..<b {
            let src = rows.data + bi * k * c, dst = x.data + bi * n * c
            let idx = index[bi]
            Parallel.chunks(k, minimumPerThread: 64) { r in
                for i in r { (dst + idx[i] * c).update(from: src + i * c, count: c) }
            }
        }
    }
}
