import CDatoDNNL

/// Learned weights handed to oneDNN, which keeps them in its preferred layout (reordered once).
final class DNNLWeights: @unchecked Sendable {
    let handle: OpaquePointer

    /// A copy of `oihw` (converted to bf16 at once for a bf16 layer).
    convenience init(conv oihw: Tensor, precision: Precision) throws {
        try self.init(conv: oihw.data, shape: oihw.shape, precision: precision)
        withExtendedLifetime(oihw) {}
    }

    /// A copy of the convolution weights at `oihw`, of `shape` [out, in, kh, kw].
    init(conv oihw: UnsafePointer<Float>, shape: [Int], precision: Precision) throws {
        precondition(shape.count == 4)
        var err = [CChar](repeating: 0, count: 256)
        guard let h = dato_weights_create_conv(oihw, shape[0], shape[1], shape[2], shape[3],
                                               precision == .bf16 ? 1 : 0, &err, err.count) else {
            throw ComputeError.backend(String(cString: err))
        }
        handle = h
    }

    /// A copy of `outIn` (converted to bf16 at once for a bf16 layer).
    init(linear outIn: Tensor, precision: Precision) throws {
        precondition(outIn.shape.count == 2)
        var err = [CChar](repeating: 0, count: 256)
        guard let h = dato_weights_create_linear(outIn.data, outIn.dim(0), outIn.dim(1), precision == .bf16 ? 1 : 0,
                                                 &err, err.count) else {
            throw ComputeError.backend(String(cString: err))
        }
        handle = h
    }

    deinit { dato_weights_destroy(handle) }
}

/// One oneDNN primitive (convolution or matmul) for one input shape.
final class DNNLOp: @unchecked Sendable {
    let handle: OpaquePointer

    init(_ make: (UnsafeMutablePointer<CChar>, Int) -> OpaquePointer?) throws {
        var err = [CChar](repeating: 0, count: 256)
        let h = err.withUnsafeMutableBufferPointer { buf in buf.baseAddress.flatMap { make($0, buf.count) } }
        guard let h else { throw ComputeError.backend(String(cString: err)) }
        handle = h
    }

    func run(_ w: DNNLWeights, src: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
             dst: UnsafeMutableRawPointer) throws {
        var err = [CChar](repeating: 0, count: 256)
        if dato_op_exec(handle, w.handle, src, bias, dst, &err, err.count) != 0 {
            throw ComputeError.backend(String(cString: err))
        }
    }

    /// Runs the op on an input that is bf16 already (the op must have been created for bf16).
    func run(_ w: DNNLWeights, src: UnsafePointer<UInt16>, bias: UnsafePointer<Float>?,
             dst: UnsafeMutableRawPointer) throws {
        var err = [CChar](repeating: 0, count: 256)
        if dato_op_exec_bf16(handle, w.handle, src, bias, dst, &err, err.count) != 0 {
            throw ComputeError.backend(String(cString: err))
        }
    }

    /// Runs the op on `x`, an fp32 tensor or (for a bf16 op) a bf16 one; `dst` is fp32, or bf16 for an op
    /// made to write bf16.
    func run(_ w: DNNLWeights, input x: any LayerInput, bias: Tensor?, dst: UnsafeMutableRawPointer) throws {
        let b = bias.map { UnsafePointer($0.data) }, (base, bf16) = x.storage
        if bf16 {
            try run(w, src: base.assumingMemoryBound(to: UInt16.self), bias: b, dst: dst)
        } else {
            try run(w, src: base.assumingMemoryBound(to: Float.self), bias: b, dst: dst)
        }
    }

    var implementation: String { String(cString: dato_op_impl(handle)) }

    deinit { dato_op_destroy(handle) }
}
