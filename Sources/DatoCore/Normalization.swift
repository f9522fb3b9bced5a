import CDatoKernels
import Foundation

/// Group and layer normalisation kernels (statistics in double precision where they are reduced).
public enum Normalization {
    /// GroupNorm over a channels-last tensor `[B, ..., C]` with `groups` groups, as torch.nn.GroupNorm.
    /// Optionally fuses a SiLU after the affine transform. Returns a new tensor.
    public static func groupNorm(_ x: Tensor, groups: Int, gamma: Tensor, beta: Tensor, eps: Float,
                                 silu: Bool = false) -> Tensor {
        Profiler.measure(.groupNorm) { groupNormKernel(x, groups: groups, gamma: gamma, beta: beta, eps: eps, silu: silu) }
    }

    static func groupNormKernel(_ x: Tensor, groups: Int, gamma: Tensor, beta: Tensor, eps: Float, silu: Bool) -> Tensor {
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
        let out = Tensor(shape: x.shape, zeroed: false)
        affineRows(x, out, scale: scale, shift: shift, rowsPerBatch: rows, silu: silu)
        return out
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

    /// out[b, r, c] = x[b, r, c] * scale[b, c] + shift[b, c], optionally followed by SiLU.
    static func affineRows(_ x: Tensor, _ out: Tensor, scale: [Float], shift: [Float], rowsPerBatch rows: Int,
                           silu: Bool) {
        let c = x.dim(-1)
        let total = x.count / c
        scale.withUnsafeBufferPointer { scp in
            shift.withUnsafeBufferPointer { shp in
                guard let sc = scp.baseAddress, let sh = shp.baseAddress else { return }
                let src = x.data, dst = out.data
                Parallel.chunks(total, minimumPerThread: 16) { r in
                    // Rows of one batch share the affine parameters: run the kernel batch by batch.
                    var row = r.lowerBound
                    while row < r.upperBound {
                        let b = row / rows, end = min(r.upperBound, (b + 1) * rows)
                        dato_affine_rows(src + row * c, dst + row * c, end - row, c, sc + b * c, sh + b * c, silu ? 1 : 0)
                        row = end
                    }
                }
            }
        }
    }

    /// LayerNorm over the last dimension, as torch.nn.LayerNorm. Returns a new tensor.
    public static func layerNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float) -> Tensor {
        let c = x.dim(-1)
        precondition(gamma.count == c && beta.count == c, "layer norm: affine size")
        let rows = x.count / c
        let out = Tensor(shape: x.shape, zeroed: false)
        let src = x.data, dst = out.data, g = gamma.data, bt = beta.data
        Profiler.measure(.layerNorm) { Parallel.chunks(rows, minimumPerThread: 8) { r in
            for row in r {
                let p = src + row * c, o = dst + row * c
                let mean = rowSum(p, c, center: 0) / Float(c)
                let variance = rowSum(p, c, center: mean, squared: true) / Float(c)
                let rstd = 1 / (variance + eps).squareRoot()
                let m = mean
                var i = 0
                while i + vecWidth <= c {
                    vstore((vload(p + i) - m) * rstd * vload(g + i) + vload(bt + i), o + i)
                    i += vecWidth
                }
                while i < c { o[i] = (p[i] - m) * rstd * g[i] + bt[i]; i += 1 }
            }
        } }
        return out
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
