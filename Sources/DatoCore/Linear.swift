import CDatoDNNL

/// A fully connected layer y = x W^T + b over the last dimension (weights in PyTorch's [out, in]
/// layout), run by oneDNN's matmul (primitives created once per row count and reused) or, in bf16 on a CPU
/// with AMX, by swift-dato's AMX kernel (`AMXConvolution`).
public final class Linear: @unchecked Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    /// How the layer computes (precision, kernels, profiler), fixed when it was made.
    public let compute: ComputeSettings
    /// The format the layer computes in (`compute.precision`).
    public var precision: Precision { compute.precision }
    /// Who runs the product: oneDNN with its copy of the weights, or swift-dato's AMX kernel (a 1x1 convolution
    /// over the rows), which runs bf16 layers whose feature counts are multiples of 32 where the CPU has AMX.
    enum Backend {
        case onednn(DNNLWeights)
        case amx(AMXConvolution)
    }
    let backend: Backend
    let bias: Tensor?
    private let ops = DNNLOpCache()

    /// `weight` is [out, in] (a 1x1 convolution's [out, in, 1, 1] is accepted too); `bias` is [out] or nil.
    public init(weight: Tensor, bias: Tensor?, compute: ComputeSettings = ComputeSettings()) throws {
        precondition(weight.shape.count == 2 || (weight.shape.count == 4 && weight.dim(2) == 1 && weight.dim(3) == 1),
                     "linear weight must be [out, in], got \(weight.shape)")
        outFeatures = weight.dim(0); inFeatures = weight.dim(1)
        self.bias = bias
        self.compute = compute
        if compute.runsAMXMatrixKernels && inFeatures % 32 == 0 && outFeatures % 32 == 0 {
            backend = .amx(AMXConvolution(weight: weight))   // [out, in] or a 1x1 convolution's [out, in, 1, 1]
        } else {
            let w2 = weight.shape.count == 2 ? weight : weight.copy().reshape([outFeatures, inFeatures])
            backend = .onednn(try DNNLWeights(linear: w2, precision: compute.precision))
        }
    }

    /// Applies the layer to `x` [..., in] (fp32, or bf16 for a bf16 layer), giving a new [..., out] tensor.
    public func callAsFunction(_ x: any LayerInput) throws -> Tensor {
        var shape = x.shape
        shape[shape.count - 1] = outFeatures
        let out = Tensor(shape: shape, zeroed: false)
        try run(x, into: out, accumulate: false)
        return out
    }

    /// Applies the layer and adds the result to `dst` (a fused residual add).
    public func accumulate(_ x: any LayerInput, into dst: Tensor) throws {
        try run(x, into: dst, accumulate: true)
    }

    /// Applies the layer and adds the result to rows `rows` of `dst` (viewed as [rows, out]); `x` has that
    /// many rows.
    public func accumulate(_ x: any LayerInput, into dst: Tensor, rows: Range<Int>) throws {
        guard rows.lowerBound >= 0 && rows.upperBound * outFeatures <= dst.count else {
            throw ComputeError.shape("rows \(rows) of \(dst.shape) for a linear layer of \(outFeatures) outputs")
        }
        try run(x, into: dst.data + rows.lowerBound * outFeatures, count: rows.count * outFeatures, accumulate: true,
                bf16Output: false)
    }

    /// Applies a bf16 layer to `x`, giving its result rounded to bf16 (for a consumer that reads bf16; half the
    /// memory traffic of an fp32 result).
    public func roundedToBF16(_ x: any LayerInput) throws -> BF16Tensor {
        guard precision == .bf16 else { throw ComputeError.shape("a bf16 result asked of an fp32 linear layer") }
        var shape = x.shape
        shape[shape.count - 1] = outFeatures
        let out = BF16Tensor(shape: shape)
        try run(x, into: out.data, count: out.count, accumulate: false, bf16Output: true)
        return out
    }

    private func run(_ x: any LayerInput, into out: Tensor, accumulate: Bool) throws {
        try run(x, into: out.data, count: out.count, accumulate: accumulate, bf16Output: false)
    }

    private func run(_ x: any LayerInput, into out: UnsafeMutableRawPointer, count: Int, accumulate: Bool,
                     bf16Output: Bool) throws {
        guard x.dim(-1) == inFeatures else {
            throw ComputeError.shape("linear expects [..., \(inFeatures)], got \(x.shape)")
        }
        let m = x.count / inFeatures
        guard count == m * outFeatures else {
            throw ComputeError.shape("linear output of \(count) values for input \(x.shape)")
        }
        let weights: DNNLWeights
        switch backend {
        case .onednn(let w): weights = w
        case .amx(let kernel):
            compute.profiler.measure(.linear, shape: "\(m)x\(self.inFeatures) -> \(self.outFeatures)") {
                kernel.runRows(x, bias: bias, into: out, accumulate: accumulate, bf16Output: bf16Output)
            }
            return
        }
        let key = [m, accumulate ? 1 : 0, bf16Output ? 1 : 0]
        let op = try ops.op(key) {
            try DNNLOp { err, len in
                dato_matmul_create(m, inFeatures, outFeatures, bias == nil ? 0 : 1, accumulate ? 1 : 0,
                                   precision == .bf16 ? 1 : 0, bf16Output ? 1 : 0, err, len)
            }
        }
        try compute.profiler.measure(.linear, shape: "\(m)x\(self.inFeatures) -> \(self.outFeatures)") {
            try op.run(weights, input: x, bias: bias, dst: out)
        }
    }
}
