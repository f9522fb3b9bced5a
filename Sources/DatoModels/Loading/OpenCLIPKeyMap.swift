/// OpenCLIP's text tower as original SD 2.x single files store it (`cond_stage_model.model.`), mapped to
/// transformers' `CLIPTextModel` names: `token_embedding`, `positional_embedding`, `transformer.resblocks.N`
/// (`ln_1`, `attn.in_proj_weight`/`in_proj_bias` holding q, k and v stacked by rows, `attn.out_proj`,
/// `ln_2`, `mlp.c_fc`, `mlp.c_proj`) and `ln_final`. As diffusers' `convert_open_clip_checkpoint`: the
/// projection to the joint image-text space (`text_projection`) and `logit_scale` are not part of the text
/// encoder, and resblocks past the encoder's layers are not loaded (SD 2 stops at the penultimate one).
public enum OpenCLIPKeyMap {
    /// The key prefix of OpenCLIP's text tower in an SD 2.x single file.
    public static let prefix = "cond_stage_model.model."
    /// Recognised and not loaded (`attn_mask` is the causal mask buffer some exports keep).
    public static let unused: Set<String> = ["text_projection", "logit_scale", "attn_mask"]

    static let fixed = [
        "token_embedding.weight": "embeddings.token_embedding.weight",
        "positional_embedding": "embeddings.position_embedding.weight",
        "ln_final.weight": "final_layer_norm.weight", "ln_final.bias": "final_layer_norm.bias",
    ]
    static let blockParts = [
        "ln_1": "layer_norm1", "ln_2": "layer_norm2", "attn.out_proj": "self_attn.out_proj",
        "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2",
    ]

    /// A diffusers tensor read from a stored one: all of it (`rows` nil), or a block of its rows.
    public struct Slice: Sendable, Equatable {
        /// The diffusers name of the tensor.
        public let name: String
        /// The rows of the stored tensor it is (q, k or v of a stacked projection), nil for the whole tensor.
        public let rows: Range<Int>?
    }

    /// What a stored text-tower tensor becomes.
    public enum Mapping: Sendable, Equatable {
        /// One diffusers tensor, or three (q, k, v) for a stacked projection.
        case load([Slice])
        /// Recognised and not loaded.
        case ignored
        /// Not an OpenCLIP text-tower name.
        case unknown
    }

    /// Maps a key (without `cond_stage_model.model.`) for a text encoder of `layers` layers of width `width`:
    /// q, k and v are rows 0..<width, width..<2 width and 2 width..<3 width of the stacked projection.
    public static func map(_ key: String, layers: Int, width: Int) -> Mapping {
        if let name = fixed[key] { return .load([Slice(name: name, rows: nil)]) }
        if unused.contains(key) { return .ignored }
        let parts = key.split(separator: ".", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == "transformer", parts[1] == "resblocks",
              let n = LDMKeyMap.blockIndex(parts[2]) else { return .unknown }
        let rest = parts[3], layer = "encoder.layers.\(n)."
        let stacked = ["attn.in_proj_weight": "weight", "attn.in_proj_bias": "bias"]
        if let leaf = stacked[rest] {
            if n >= layers { return .ignored }
            let (w, o1) = width.multipliedReportingOverflow(by: 3)
            guard width > 0, !o1, w > 0 else { return .unknown }
            return .load(["q", "k", "v"].enumerated().map { i, x in
                Slice(name: "\(layer)self_attn.\(x)_proj.\(leaf)", rows: (i * width)..<((i + 1) * width))
            })
        }
        guard let dot = rest.lastIndex(of: "."), ["weight", "bias"].contains(rest[rest.index(after: dot)...]),
              let part = blockParts[String(rest[..<dot])] else { return .unknown }
        return n >= layers ? .ignored : .load([Slice(name: layer + part + String(rest[dot...]), rows: nil)])
    }
}
