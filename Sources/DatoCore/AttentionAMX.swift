import CDatoAMX

extension Attention {
    /// swift-dato's own bf16 attention kernels, which share the packed keys and values and the blocking of
    /// `computePacked`.
    enum PackedKernel {
        /// Intel AMX tiles (`dato_amx.c`).
        case amx
        /// AVX512-BF16 dot products on CPUs without AMX (`dato_bf16_attention.c`).
        case avx512bf16

        /// Bytes of scratch one worker needs.
        func scratchBytes(nk: Int, dk: Int, dv: Int) -> Int {
            self == .amx ? dato_amx_scratch_size(nk, dk, dv) : dato_bf16_attention_scratch_size(nk, dk, dv)
        }
    }

    /// An operand of `computePacked`: token rows of `stride` elements at `base` (`rows[b, n, :]` at row b * tokens + n),
    /// fp32 or (with `bf16`) bf16.
    struct AMXInput {
        var base: UnsafeRawPointer
        var tokens: Int
        var stride: Int
        var bf16: Bool
        init(_ x: any LayerInput) {
            (tokens, stride) = (x.dim(1), x.dim(-1))
            (base, bf16) = x.storage
        }
        /// Where row `row` (counted over all batches), column `column` starts.
        func at(_ row: Int, _ column: Int) -> UnsafeRawPointer { base + (row * stride + column) * (bf16 ? 2 : 4) }
    }

    /// The result of `computePacked`: rows of `stride` elements at `base`, fp32 or (with `bf16`) rounded to bf16.
    struct AMXOutput {
        var base: UnsafeMutableRawPointer
        var stride: Int
        var bf16: Bool
        init(_ t: Tensor) { base = UnsafeMutableRawPointer(t.data); stride = t.dim(-1); bf16 = false }
        init(_ t: BF16Tensor) { base = UnsafeMutableRawPointer(t.data); stride = t.dim(-1); bf16 = true }
        /// Where row `row` (counted over all batches), column `column` starts.
        func at(_ row: Int, _ column: Int) -> UnsafeMutableRawPointer {
            base + (row * stride + column) * (bf16 ? 2 : 4)
        }
    }

    /// The bf16 attention on `kernel`: the keys and values of every (batch, head) are packed to bf16 (in the AMX
    /// tile layout, which the AVX512-BF16 dot products read too) first, then the blocks of 32 query rows of all
    /// heads go to whichever worker is free, each computing its scores in bf16 with fp32 accumulation, an fp32
    /// online softmax and the probabilities-times-values product, in the worker's own scratch memory. (One shared
    /// queue instead of a split per head: no worker waits at a barrier per head when the other core runs slower.)
    static func computePacked(_ kernel: PackedKernel, q: AMXInput, k: AMXInput, v: AMXInput, out: AMXOutput, batch: Int,
                              heads: Int, qkDim: Int, vDim: Int, causal: Bool,
                              probabilityMean: UnsafeMutablePointer<Float>?, profiler: Profiler?) {
        precondition(qkDim % heads == 0 && vDim % heads == 0, "attention: width not divisible by \(heads) heads")
        let dk = qkDim / heads, dv = vDim / heads
        let nq = q.tokens, nk = k.tokens
        let rowsPerBlock = 32
        let blocks = (nq + rowsPerBlock - 1) / rowsPerBlock
        let scale = 1 / Float(dk).squareRoot()
        let pairs = batch * heads
        let keySize = dato_amx_keys_size(nk, dk), valueSize = dato_amx_values_size(nk, dv)
        let keys = UnsafeMutablePointer<UInt16>.allocate(capacity: pairs * keySize)
        let values = UnsafeMutablePointer<UInt16>.allocate(capacity: pairs * valueSize)
        let scratchBytes = kernel.scratchBytes(nk: nk, dk: dk, dv: dv)
        let scratch = (0..<Parallel.threadCount).map { _ in
            UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
        }
        defer { keys.deallocate(); values.deallocate(); scratch.forEach { $0.deallocate() } }
        profiler.measure(.attention, shape: "\(nq)x\(nk) tokens, \(heads)x\(dk), batch \(batch)") {
            // Item 2p packs the keys of pair p = b * heads + h, item 2p + 1 its values.
            Parallel.items(2 * pairs) { item, _ in
                let p = item / 2, b = p / heads, h = p % heads
                let (rows, width, packed) = item % 2 == 0 ? (k, dk, keys + p * keySize) : (v, dv, values + p * valueSize)
                let start = rows.at(b * nk, h * width)
                switch (item % 2 == 0, rows.bf16) {
                case (true, false): dato_amx_pack_keys(start.assumingMemoryBound(to: Float.self), rows.stride, nk, dk, packed)
                case (true, true): dato_amx_pack_keys_bf16(start.assumingMemoryBound(to: UInt16.self), rows.stride, nk, dk, packed)
                case (false, false): dato_amx_pack_values(start.assumingMemoryBound(to: Float.self), rows.stride, nk, dv, packed)
                case (false, true): dato_amx_pack_values_bf16(start.assumingMemoryBound(to: UInt16.self), rows.stride, nk, dv, packed)
                }
            }
            let block = kernel == .amx ? dato_amx_attention_block : dato_bf16_attention_block
            /// Query block `index` of pair `p`.
            func run(_ p: Int, _ index: Int, _ worker: Int) {
                let b = p / heads, h = p % heads, r0 = index * rowsPerBlock, rows = min(rowsPerBlock, nq - r0)
                block(q.at(b * nq + r0, h * dk), q.bf16 ? 1 : 0, q.stride, rows, r0, causal ? 1 : 0,
                      keys + p * keySize, values + p * valueSize, nk, dk, dv, scale,
                      out.at(b * nq + r0, h * dv), out.stride, out.bf16 ? 1 : 0,
                      probabilityMean.map { $0 + (b * nq + r0) * nk }, 1 / Float(heads), scratch[worker])
            }
            forEachQueryBlock(batch: batch, heads: heads, blocks: blocks, writesProbabilityMap: probabilityMean != nil, run)
        }
    }
}
