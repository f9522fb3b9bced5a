import DatoCore

/// DaTo's dynamics signal (docs/methods/dato.md): the mean over channels of |e_{k-1} - e_{k-2}| from the two
/// previous raw UNet outputs, normalised per row by its mean and average-pooled to each level's grid.
struct Dynamics {
    private var previous: Tensor?, older: Tensor?
    /// D per row at latent resolution (row-major), available from the third call of a run on.
    private(set) var signal: [[Float]]?
    private(set) var latent = (h: 0, w: 0)
    private var pooled: [Int: [[Float]]] = [:]

    /// Records the raw output [rows, h, w, channels] of a call and recomputes D from the last two.
    mutating func record(_ output: Tensor, normalize: Bool) {
        older = previous
        previous = output
        pooled = [:]
        guard let a = previous, let b = older, a.shape == b.shape, a.shape.count == 4 else { signal = nil; return }
        signal = Self.signal(a, b, normalize: normalize)
        latent = (a.dim(1), a.dim(2))
    }

    /// D [rows][h * w] from two outputs; normalised to mean 1 per row (0 when the mean is below 1e-12).
    static func signal(_ a: Tensor, _ b: Tensor, normalize: Bool) -> [[Float]] {
        let rows = a.dim(0), px = a.dim(1) * a.dim(2), c = a.dim(3)
        return (0..<rows).map { r in
            var d = [Float](repeating: 0, count: px)
            var sum = 0.0
            for i in 0..<px {
                let p = a.data + (r * px + i) * c, q = b.data + (r * px + i) * c
                var m: Float = 0
                for k in 0..<c { m += abs(p[k] - q[k]) }
                d[i] = m / Float(c)
                sum += Double(d[i])
            }
            guard normalize else { return d }
            let mean = sum / Double(px)
            guard mean >= 1e-12 else { return [Float](repeating: 0, count: px) }
            let inv = Float(1 / mean)
            return d.map { $0 * inv }
        }
    }

    /// D at a level's grid (adaptive average pooling), nil before two outputs exist or for other row counts.
    mutating func signal(grid: (h: Int, w: Int), rows: Int) -> [[Float]]? {
        guard let signal, signal.count == rows else { return nil }
        if grid == latent { return signal }
        let key = grid.h << 32 | grid.w
        if let p = pooled[key] { return p }
        let p = signal.map { Self.pool($0, from: latent, to: grid) }
        pooled[key] = p
        return p
    }

    /// Adaptive average pooling (torch's bins: rows floor(i H / h) ..< ceil((i + 1) H / h), columns alike).
    static func pool(_ d: [Float], from src: (h: Int, w: Int), to dst: (h: Int, w: Int)) -> [Float] {
        var out = [Float](repeating: 0, count: dst.h * dst.w)
        for i in 0..<dst.h {
            let y0 = i * src.h / dst.h, y1 = ((i + 1) * src.h + dst.h - 1) / dst.h
            for j in 0..<dst.w {
                let x0 = j * src.w / dst.w, x1 = ((j + 1) * src.w + dst.w - 1) / dst.w
                var sum: Float = 0
                for y in y0..<y1 { for x in x0..<x1 { sum += d[y * src.w + x] } }
                out[i * dst.w + j] = sum / Float((y1 - y0) * (x1 - x0))
            }
        }
        return out
    }
}
