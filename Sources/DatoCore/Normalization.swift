import CDatoKernels
import Foundation

/// Group and layer normalisation kernels (statistics in double precision where they are reduced).
public enum Normalization {
    /// GroupNorm over a channels-last tensor `[B, ..., C]` with `groups` groups, as torch.nn.GroupNorm.
    /// Optionally fuses a SiLU after the affine transform, and an addition before it: `adding` ([B, C]) is added
    /// to every position of its batch row and channel first (a resnet's time embedding) without a pass of its
    /// own. Returns a new tensor.
    public static func groupNorm(_ x: Tensor, adding: Tensor? = nil, groups: Int, gamma: Tensor, beta: Tensor,
                                 eps: Float, silu: Bool = false) -> Tensor {
        let (scale, shift) = groupAffine(x, adding: adding, groups: groups, gamma: gamma, beta: beta, eps: eps)
        let out = Tensor(shape: x.shape, zeroed: false)
        let dst = out.data
        affineRows(x, scale: scale, shift: shift) { src, row, rows, c, sc, sh in
            dato_affine_rows(src, dst + row * c, rows, c, sc, sh, silu ? 1 : 0)
        }
        return out
    }

    /// `groupNorm` with its result rounded to bf16, for bf16 layers to read without converting it themselves.
    public static func groupNormBF16(_ x: Tensor, adding: Tensor? = nil, groups: Int, gamma: Tensor, beta: Tensor,
                                     eps: Float, silu: Bool = false) -> BF16Tensor {
        let (scale, shift) = groupAffine(x, adding: adding, groups: groups, gamma: gamma, beta: beta, eps: eps)
        let out = BF16Tensor(shape: x.shape)
        let dst = out.data
        affineRows(x, scale: scale, shift: shift) { src, row, rows, c, sc, sh in
            dato_affine_rows_bf16(src, dst + row * c, rows, c, sc, sh, silu ? 1 : 0)
        }
        return out
    }

    /// The per-(batch, channel) scale and shift that apply group normalisation of x + adding and the affine
    /// parameters at once, to x.
    static func groupAffine(_ x: Tensor, adding: Tensor?, groups: Int, gamma: Tensor, beta: Tensor,
                            eps: Float) -> ([Float], [Float]) {
        let b = x.dim(0), c = x.dim(-1)
        precondition(c % groups == 0, "group norm: \(c) channels in \(groups) groups")
        precondition(gamma.count == c && beta.count == c, "group norm: affine size")
        precondition(adding.map { $0.count == b * c } ?? true, "group norm: addition of \(adding?.shape ?? []) for \(x.shape)")
        // The sums below are of x - shift; those of (x + a) - (shift + a) are the same, so the statistics of
        // x + a come from the shifts `moved` by a.
        func moved(_ shift: Float, _ i: Int) -> Double { Double(shift) + Double(adding?.data[i] ?? 0) }
        let rows = x.count / (b * c), cg = c / groups
        let chunks = max(1, min(rows / 64, Parallel.threadCount * 2))
        let items = b * chunks
        // One pass: per-channel sums of d = x - x[b, 0, ch] and of d^2 (shifting by a value of the channel keeps
        // the variance's cancellation small), then the group statistics from them in double precision.
        var shifts = [Float](repeating: 0, count: b * c)
        for bi in 0..<b { for ch in 0..<c { shifts[bi * c + ch] = x.data[bi * rows * c + ch] } }
        var sums = [Double](repeating: 0, count: 2 * items * c)
        sums.withUnsafeMutableBufferPointer { sp in
            shifts.withUnsafeBufferPointer { hp in
                guard let s = sp.baseAddress, let h = hp.baseAddress else { return }
                Parallel.chunks(items) { r in
                    for item in r {
                        let bi = item / chunks, k = item % chunks
                        let lo = rows * k / chunks, hi = rows * (k + 1) / chunks
                        channelSums(x.data + (bi * rows + lo) * c, rows: hi - lo, c: c, shift: h + bi * c,
                                    into: s + 2 * item * c)
                    }
                }
            }
        }
        var mean = [Double](repeating: 0, count: b * groups), variance = mean
        var s1 = [Double](repeating: 0, count: c), s2 = s1   // one batch row's channel sums over all chunks
        let n = Double(rows * cg)
        for bi in 0..<b {
            for ch in 0..<c {
                (s1[ch], s2[ch]) = (0, 0)
                for k in 0..<chunks {
                    s1[ch] += sums[2 * (bi * chunks + k) * c + ch]
                    s2[ch] += sums[(2 * (bi * chunks + k) + 1) * c + ch]
                }
                mean[bi * groups + ch / cg] += s1[ch] + Double(rows) * moved(shifts[bi * c + ch], bi * c + ch)
            }
            for g in 0..<groups { mean[bi * groups + g] /= n }
            for ch in 0..<c {
                // sum over the channel of (x - mean)^2 = s2 - 2 delta s1 + rows delta^2, delta = mean - shift.
                let delta = mean[bi * groups + ch / cg] - moved(shifts[bi * c + ch], bi * c + ch)
                variance[bi * groups + ch / cg] += s2[ch] - 2 * delta * s1[ch] + Double(rows) * delta * delta
            }
            for g in 0..<groups { variance[bi * groups + g] = max(0, variance[bi * groups + g] / n) }
        }
        // Per (batch, channel) affine: y = x * scale + shift.
        var scale = [Float](repeating: 0, count: b * c), shift = [Float](repeating: 0, count: b * c)
        for bi in 0..<b {
            for ch in 0..<c {
                let g = bi * groups + ch / cg
                let rstd = 1 / (variance[g] + Double(eps)).squareRoot()
                let sc = Double(gamma[ch]) * rstd
                scale[bi * c + ch] = Float(sc)
                shift[bi * c + ch] = Float(Double(beta[ch]) + (moved(0, bi * c + ch) - mean[g]) * sc)
            }
        }
        return (scale, shift)
    }

    /// Adds each channel's sums over `rows` rows of d = x - shift and of d^2 to `into[0 ..< c]` and
    /// `into[c ..< 2c]` (double; fp32 within blocks of 32 rows).
    static func channelSums(_ x: UnsafePointer<Float>, rows: Int, c: Int, shift: UnsafePointer<Float>,
                            into: UnsafeMutablePointer<Double>) {
        let block = 32
        let acc = UnsafeMutablePointer<Float>.allocate(capacity: 2 * c)
        defer { acc.deallocate() }
        let sq = acc + c
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + block)
            acc.update(repeating: 0, count: 2 * c)
            for row in r0..<r1 {
                let p = x + row * c
                var i = 0
                while i + vecWidth <= c {
                    let d = vload(p + i) - vload(shift + i)
                    vstore(vload(acc + i) + d, acc + i)
                    vstore(vload(sq + i) + d * d, sq + i)
                    i += vecWidth
                }
                while i < c { let d = p[i] - shift[i]; acc[i] += d; sq[i] += d * d; i += 1 }
            }
            for i in 0..<2 * c { into[i] += Double(acc[i]) }
            r0 = r1
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
        Parallel.chunks(rows, minimumPerThread: 8) { r in
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
        }
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
