import CDatoKernels

/// Element-wise kernels. All run in parallel over the OpenMP pool.
public enum Elementwise {
    static let grain = 1 << 14

    /// `a += b` (same shapes).
    public static func addInPlace(_ a: Tensor, _ b: Tensor) {
        precondition(a.count == b.count, "add: \(a.shape) vs \(b.shape)")
        let pa = a.data, pb = b.data
        Parallel.chunks(a.count / vecWidth + 1, minimumPerThread: grain / vecWidth) { r in
            let lo = r.lowerBound * vecWidth, hi = min(r.upperBound * vecWidth, a.count)
            if lo < hi { vmapAdd(pa + lo, pb + lo, hi - lo) }
        }
    }

    /// `a -= b` (same shapes).
    public static func subtractInPlace(_ a: Tensor, _ b: Tensor) {
        precondition(a.count == b.count, "subtract: \(a.shape) vs \(b.shape)")
        let pa = a.data, pb = b.data
        Parallel.chunks(a.count / vecWidth + 1, minimumPerThread: grain / vecWidth) { r in
            let lo = r.lowerBound * vecWidth, hi = min(r.upperBound * vecWidth, a.count)
            var i = lo
            while i + vecWidth <= hi { vstore(vload(pa + i) - vload(pb + i), pa + i); i += vecWidth }
            while i < hi { pa[i] -= pb[i]; i += 1 }
        }
    }

    @inline(__always)
    static func vmapAdd(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        while i + vecWidth <= n { vstore(vload(a + i) + vload(b + i), a + i); i += vecWidth }
        while i < n { a[i] += b[i]; i += 1 }
    }

    /// Runs a single-threaded C kernel over slices of `t`, in parallel, in place.
    static func inPlace(_ t: Tensor, _ kernel: (UnsafeMutablePointer<Float>, Int) -> Void) {
        let p = t.data, n = t.count
        Parallel.chunks(n / vecWidth + 1, minimumPerThread: grain / vecWidth) { r in
            let lo = r.lowerBound * vecWidth, hi = min(r.upperBound * vecWidth, n)
            if lo < hi { kernel(p + lo, hi - lo) }
        }
    }

    /// SiLU: x * sigmoid(x), in place.
    public static func silu(_ t: Tensor) { inPlace(t) { dato_silu($0, $1) } }

    /// GELU in the exact erf form (as torch's default), in place.
    public static func gelu(_ t: Tensor) { inPlace(t) { dato_gelu($0, $1) } }

    /// Quick GELU (CLIP): x * sigmoid(1.702 x), in place.
    public static func quickGelu(_ t: Tensor) { inPlace(t) { dato_quick_gelu($0, $1) } }

    /// GEGLU: for x of shape [..., 2F], returns [..., F] = value * GELU(gate), value = first half.
    public static func geglu(_ x: Tensor) -> Tensor {
        let out = Tensor(shape: gegluShape(x.shape), zeroed: false)
        gegluRows(x) { r, f in dato_geglu(x.data + r.lowerBound * 2 * f, out.data + r.lowerBound * f, r.count, f) }
        return out
    }

    /// GEGLU of a bf16 input (a bf16 projection's rounded result), rounded to bf16 for the bf16 layer reading it.
    public static func gegluBF16(_ x: BF16Tensor) -> BF16Tensor {
        let out = BF16Tensor(shape: gegluShape(x.shape))
        gegluRows(x) { r, f in dato_geglu_bf16(x.data + r.lowerBound * 2 * f, out.data + r.lowerBound * f, r.count, f) }
        return out
    }

    /// The result shape [..., F] of GEGLU on [..., 2F].
    private static func gegluShape(_ shape: [Int]) -> [Int] {
        precondition((shape.last ?? 0) % 2 == 0, "geglu: odd feature size \(shape.last ?? 0)")
        var out = shape
        out[out.count - 1] /= 2
        return out
    }

    /// Runs `body(rows, F)` over ranges of the rows of `x` ([..., 2F]) in parallel.
    private static func gegluRows(_ x: any LayerInput, _ body: (Range<Int>, Int) -> Void) {
        let f2 = x.dim(-1)
        Parallel.chunks(x.count / max(f2, 1), minimumPerThread: 4) { body($0, f2 / 2) }
    }
}
