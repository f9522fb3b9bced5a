import DatoCore

/// One `CLIPEncoderLayer`: pre-LN causal self-attention and a quick-GELU MLP, both residual.
final class CLIPEncoderLayer {
    let layerNorm1: LayerNorm, layerNorm2: LayerNorm
    let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
    let fc1: Linear, fc2: Linear
    let heads: Int
    let quickGelu: Bool
    /// The settings of its attention (softmax and GEMM kernels, profiler).
    let compute: ComputeSettings

    init(_ s: Scope, config c: CLIPTextConfig) throws {
        let d = c.hiddenSize
        heads = c.numAttentionHeads
        quickGelu = c.hiddenAct == "quick_gelu"
        compute = s.compute
        layerNorm1 = LayerNorm(s["layer_norm1"], channels: d, eps: c.layerNormEps)
        let a = s["self_attn"]
        qProj = try a["q_proj"].linear(d, d)
        kProj = try a["k_proj"].linear(d, d)
        vProj = try a["v_proj"].linear(d, d)
        outProj = try a["out_proj"].linear(d, d)
        layerNorm2 = LayerNorm(s["layer_norm2"], channels: d, eps: c.layerNormEps)
        fc1 = try s["mlp"]["fc1"].linear(d, c.intermediateSize)
        fc2 = try s["mlp"]["fc2"].linear(c.intermediateSize, d)
    }

    /// Updates `x` [B, T, D] in place.
    func callAsFunction(_ x: Tensor) throws {
        let n = layerNorm1(x)
        let o = try Attention.scaledDotProduct(q: try qProj(n), k: try kProj(n), v: try vProj(n), heads: heads, causal: true,
                                               compute: compute)
        try outProj.accumulate(o, into: x)
        let h = try fc1(layerNorm2(x))
        if quickGelu { Elementwise.quickGelu(h) } else { Elementwise.gelu(h) }
        try fc2.accumulate(h, into: x)
    }
}

/// transformers `CLIPTextModel` as SD 1.x uses it: token + position embeddings, causal transformer
/// encoder, final LayerNorm. Weight names without the `text_model.` prefix.
public final class CLIPTextModel {
    public let config: CLIPTextConfig
    let tokenEmbedding: Tensor, positionEmbedding: Tensor
    let layers: [CLIPEncoderLayer]
    let finalLayerNorm: LayerNorm

    /// The encoder's outputs for a batch of token ids.
    public struct Output {
        /// Final-LayerNorm output [B, T, D] (what SD conditions on).
        public let lastHiddenState: Tensor
        /// The embeddings and every layer's output before the final LayerNorm (T+1 tensors).
        public let hiddenStates: [Tensor]
        /// The last hidden state at each sequence's end-of-text token [B, D].
        public let pooled: Tensor
    }

    public init(config: CLIPTextConfig, params s: Scope) throws {
        try config.validate()
        try s.reserve(try config.describedParameters(file: "text encoder config"), for: "text encoder")
        self.config = config
        tokenEmbedding = s["embeddings"]["token_embedding"].tensor("weight", [config.vocabSize, config.hiddenSize])
        positionEmbedding = s["embeddings"]["position_embedding"].tensor("weight", [config.maxPositionEmbeddings, config.hiddenSize])
        layers = try (0..<config.numHiddenLayers).map { try CLIPEncoderLayer(s["encoder"]["layers"][$0], config: config) }
        finalLayerNorm = LayerNorm(s["final_layer_norm"], channels: config.hiddenSize, eps: config.layerNormEps)
    }

    /// Encodes `ids` (one array per batch row, all the same length, at most max_position_embeddings).
    public func callAsFunction(_ ids: [[Int]], keepHiddenStates: Bool = false) throws -> Output {
        let b = ids.count, t = ids.first?.count ?? 0, d = config.hiddenSize
        guard b > 0, t > 0, ids.allSatisfy({ $0.count == t }) else {
            throw ModelError.input("text encoder needs a non-empty batch of equal-length token rows")
        }
        guard t <= config.maxPositionEmbeddings else {
            throw ModelError.input("\(t) tokens exceed the text encoder's \(config.maxPositionEmbeddings) positions")
        }
        let x = Tensor(shape: [b, t, d], zeroed: false)
        for (bi, row) in ids.enumerated() {
            for (ti, id) in row.enumerated() {
                guard (0..<config.vocabSize).contains(id) else {
                    throw ModelError.input("token id \(id) is outside the vocabulary of \(config.vocabSize)")
                }
                let dst = x.data + (bi * t + ti) * d
                let tok = tokenEmbedding.data + id * d, pos = positionEmbedding.data + ti * d
                for k in 0..<d { dst[k] = tok[k] + pos[k] }
            }
        }
        var hidden: [Tensor] = keepHiddenStates ? [x.copy()] : []
        for layer in layers {
            try layer(x)
            if keepHiddenStates { hidden.append(x.copy()) }
        }
        let last = finalLayerNorm(x)
        let pooled = Tensor(shape: [b, d], zeroed: false)
        for (bi, row) in ids.enumerated() {
            // transformers: the first end-of-text token (argmax of ids for the legacy eos id 2).
            let pos = config.eosTokenId == 2 ? (row.indices.max { row[$0] < row[$1] } ?? 0)
                                             : (row.firstIndex(of: config.eosTokenId) ?? t - 1)
            (pooled.data + bi * d).update(from: last.data + (bi * t + pos) * d, count: d)
        }
        return Output(lastHiddenState: last, hiddenStates: hidden, pooled: pooled)
    }
}
