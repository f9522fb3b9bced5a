import CDatoKernels
import Foundation

/// Group and layer normalisation kernels (statistics in double precision where they are reduced).
public enum Normalization {
    /// GroupNorm over a channels-last tensor `[B, ..., C]` with `groups` groups, as torch.nn.GroupNorm.
    /// Optionally fuses a SiLU after the affine transform. Returns a new tensor.
    public static func groupNorm(_ x: Tensor, groups: Int, gamma: Tensor, beta: Tensor, eps: Float,
                                 silu: Bool = false) -> Tensor {
        Profiler.measure(.groupNorm) {
            let (scale, shift) = groupAffine(x, groups: groups, gamma: gamma, beta: beta, eps: eps)
            let out = Tensor(shape: x.shape, zeroed: false)
            let dst = out.data
            affineRows(x, scale: scale, shift: shift) { src, row, rows, c, sc, sh in
                dato_affine_rows(src, dst + row * c, rows, c, sc, sh, silu ? 1 : 0)
            }
            return out
        }
    }

    /// `groupNorm` with its result rounded to bf16, for bf16 layers to read without converting it themselves.
    public static func groupNormBF16(_ x: Tensor, groups: Int, gamma: Tensor, beta: Tensor, eps: Float,
                                     silu: Bool = false) -> BF16Tensor {
        Profiler.measure(.groupNorm) {
            let (scale, shift) = groupAffine(x, groups: groups, gamma: gamma, beta: beta, eps: eps)
            let out = BF16Tensor(shape: x.shape)
            let dst = out.data
            affineRows(x, scale: scale, shift: shift) { src, row, rows, c, sc, sh in
                dato_affine_rows_bf16(src, dst + row * c, rows, c, sc, sh, silu ? 1 : 0)
            }
            return out
        }
    }

    /// The per-(batch, channel) scale and shift that apply group normalisation and the affine parameters at once.
    static func groupAffine(_ x: Tensor, groups: Int, gamma: Tensor, beta: Tensor, eps: Float) -> ([Float], [Float]) {
        let b = x.dim(0), c = x.dim(-1)
        precondition(c % groups == 0, "group norm: \(c) channels in \(groups) groups")
        precondition(gamma.count == c && beta.count == c, "group norm: affine size")
        let rows = x.count / (b * c), cg = c / groups
        let chunks = max(1, min(rows / 64, Parallel.threadCount * 2))
        let items = b * chunks
        // Pass 1: per-channel sums.
        var sums = [Double](repeating: 0, count: items * c)
        sums.withUnsafeMutableBufferPointer { sp in
            guard let s = sp.baseAddress else { return }
            Parallel.chunks(items) { r in
                for item in r {
                    let bi = item / chunks, k = item % chunks
                    let lo = rows * k / chunks, hi = rows * (k + 1) / chunks
                    channelSums(x.data + (bi * rows + lo) * c, rows: hi - lo, c: c, mean: nil, into: s + item * c)
                }
            }
        }
        var mean = [Double](repeating: 0, count: b * groups)
        reduceGroups(sums, b: b, chunks: chunks, c: c, groups: groups, n: Double(rows * cg), into: &mean)
        // Pass 2: per-channel sums of squared deviations from the group mean.
        var chanMean = [Float](repeating: 0, count: b * c)
        for bi in 0..<b { for ch in 0..<c { chanMean[bi * c + ch] = Float(mean[bi * groups + ch / cg]) } }
        var sq = [Double](repeating: 0, count: items * c)
        sq.withUnsafeMutableBufferPointer { sp in
            chanMean.withUnsafeBufferPointer { mp in
                guard let s = sp.baseAddress, let m = mp.baseAddress else { return }
                Parallel.chunks(items) { r in
                    for item in r {
                        let bi = item / chunks, k = item % chunks
                        let lo = rows * k / chunks, hi = rows * (k + 1) / chunks
                        channelSums(x.data + (bi * rows + lo) * c, rows: hi - lo, c: c, mean: m + bi * c,
                                    into: s + item * c)
                    }
                }
            }
        }
        var variance = [Double](repeating: 0, count: b * groups)
        reduceGroups(sq, b: b, chunks: chunks, c: c, groups: groups, n: Double(rows * cg), into: &variance)
        // Per (batch, channel) affine: y = x * scale + shift.
        var scale = [Float](repeating: 0, count: b * c), shift = [Float](repeating: 0, count: b * c)
        for bi in 0..<b {
            for ch in 0..<c {
                let g = bi * groups + ch / cg
                let rstd = 1 / (variance[g] + Double(eps)).squareRoot()
                let sc = Double(gamma[ch]) * rstd
                scale[bi * c + ch] = Float(sc)
                shift[bi * c + ch] = Float(Double(beta[ch]) - mean[g] * sc)
            }
        }
        return (scale, shift)
    }

    /// Sums each channel over `rows` rows (of (x - mean)^2 when `mean` is given) into `into` (double).
    static func channelSums(_ x: UnsafePointer<Float>, rows: Int, c: Int, mean: UnsafePointer<Float>?,
                            into: UnsafeMutablePointer<Double>) {
        let block = 32
        let acc = UnsafeMutablePointer<Float>.allocate(capacity: c)
        defer { acc.deallocate() }
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + block)
            acc.update(repeating: 0, count: c)
            for row in r0..<r1 {
                let p = x + row * c
                var i = 0
                if let mean {
                    while i + vecWidth <= c {
                        let d = vload(p + i) - vload(mean + i)
                        vstore(vload(acc + i) + d * d, acc + i)
                        i += vecWidth
                    }
                    while i < c { let d = p[i] - mean[i]; acc[i] += d * d; i += 1 }
                } else {
                    while i + vecWidth <= c { vstore(vload(acc + i) + vload(p + i), acc + i); i += vecWidth }
                    while i < c { acc[i] += p[i]; i += 1 }
                }
            }
            for i in 0..<c { into[i] += Double(acc[i]) }
            r0 = r1
        }
    }

    static func reduceGroups(_ partial: [Double], b: Int, chunks: Int, c: Int, groups: Int, n: Double,
                             into out: inout [Double]) {
        let cg = c / groups
        for bi in 0..<b {
            for k in 0..<chunks {
                let base = (bi * chunks + k) * c
                for ch in 0..<c { out[bi * groups + ch / cg] += partial[base + ch] }
            }
            for g in 0..<groups { out[bi * groups + g] /= n }
        }
    }

    /// Runs `kernel(src, row, rows, c, scale, shift)` over runs of rows of `x` [B, ..., C] that share a batch
    /// index, in parallel: the kernel writes rows `row ..< row + rows` from `src` with that batch's affine
    /// parameters `scale[b, :]`, `shift[b, :]`.
    static func affineRows(_ x: Tensor, scale: [Float], shift: [Float],
                           kernel: @escaping (UnsafePointer<Float>, Int, Int, Int, UnsafePointer<Float>,
                                              UnsafePointer<Float>) -> Void) {
        let c = x.dim(-1)
        let total = x.count / c, rows = total / x.dim(0)
        scale.withUnsafeBufferPointer { scp in
            shift.withUnsafeBufferPointer { shp in
                guard let sc = scp.baseAddress, let sh = shp.baseAddress else { return }
                let src = x.data
                Parallel.chunks(total, minimumPerThread: 16) { r in
                    var row = r.lowerBound
                    while row < r.upperBound {
                        let b = row / rows, end = min(r.upperBound, (b + 1) * rows)
                        kernel(src + row * c, row, end - row, c, sc + b * c, sh + b * c)
                        row = end
                    }
                }
            }
        }
    }

    /// LayerNorm over the last dimension, as torch.nn.LayerNorm. Returns a new tensor.
    public static func layerNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float) -> Tensor {
        let out = Tensor(shape: x.shape, zeroed: false)
        let dst = out.data, c = x.dim(-1)
        layerNormRows(x, gamma: gamma, beta: beta, eps: eps) { row, normalize in normalize(dst + row * c) }
        return out
    }

    /// `layerNorm` with its result rounded to bf16, for bf16 layers to read without converting it themselves.
    public static func layerNormBF16(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float) -> BF16Tensor {
        let out = BF16Tensor(shape: x.shape)
        let dst = out.data, c = x.dim(-1)
        layerNormRows(x, gamma: gamma, beta: beta, eps: eps) { row, normalize in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: c) { buffer in
                guard let o = buffer.baseAddress else { return }
                normalize(o)
                dato_to_bf16(o, c, 1, dst + row * c)
            }
        }
        return out
    }

    /// Calls `write(row, normalize)` for every row of `x` in parallel; `normalize(o)` stores the normalised row
    /// (c fp32 values) at `o`.
    static func layerNormRows(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float,
                              write: @escaping (Int, (UnsafeMutablePointer<Float>) -> Void) -> Void) {
        let c = x.dim(-1)
        precondition(gamma.count == c && beta.count == c, "layer norm: affine size")
        let rows = x.count / c
        let src = x.data, g = gamma.data, bt = beta.data
        Profiler.measure(.layerNorm) { Parallel.chunks(rows, minimumPerThread: 8) { r in
            for row in r {
                let p = src + row * c
                write(row) { o in
                    let mean = rowSum(p, c, center: 0) / Float(c)
                    let variance = rowSum(p, c, center: mean, squared: true) / Float(c)
                    let rstd = 1 / (variance + eps).squareRoot()
                    var i = 0
                    while i + vecWidth <= c {
                        vstore((vload(p + i) - mean) * rstd * vload(g + i) + vload(bt + i), o + i)
                        i += vecWidth
                    }
                    while i < c { o[i] = (p[i] - mean) * rstd * g[i] + bt[i]; i += 1 }
                }
            }
        } }
    }

    /// Sum of a row (or of squared deviations from `center`) with 16 vector accumulators.
    @inline(__always)
    static func rowSum(_ p: UnsafePointer<Float>, _ n: Int, center: Float, squared: Bool = false) -> Float {
        var acc = Vec(repeating: 0)
        var i = 0
        while i + vecWidth <= n {
            let d = vload(p + i) - center
            acc += squared ? d * d : d
            i += vecWidth
        }
        var s = acc.sum()
        while i < n { let d = p[i] - center; s += squared ? d * d : d; i += 1 }
        return s
    }
}
