/// Infers SD 1.x/2.x network configs from the tensor shapes of an original single-file checkpoint: what the
/// shapes determine (channels per level, layers per block, block types, cross-attention width, projection
/// kind, text encoder layout, width and depth, VAE channels and latent channels). What they cannot determine
/// takes the family's published diffusers config (`ModelFamily.applyDefaults`): SD 1.x 8 attention heads,
/// SD 2.x 64-wide heads per level and upcast attention; 32 norm groups; 64-wide text heads (12 for ViT-L/14,
/// 16 for OpenCLIP ViT-H/14); the native size. An OpenCLIP text encoder (SD 2.x) runs all its resblocks but
/// the last, with GELU, as SD 2 uses the penultimate layer.
///
/// Every shape used is checked first (its rank, no empty dimension, the sizes that must agree do), and every
/// inferred size is bounded (`maxChannels`, `maxLevels`, ...), and the networks may not need more weights than
/// the file holds (`InferredModelSize`), so that a corrupt or hostile file gives an error naming the file and
/// the tensor, never a trap or a model larger than the file can justify.
public enum ArchitectureInference {
    /// Largest channel count or width inferred (SD-family models use at most a few thousand).
    public static let maxChannels = 65536
    /// Most resolution levels (UNet or VAE).
    public static let maxLevels = 16
    /// Most layers per block (UNet, VAE) and transformer layers per attention block.
    public static let maxLayersPerBlock = 64
    /// Most text encoder layers.
    public static let maxTextLayers = 256
    /// Largest text vocabulary and number of positions.
    public static let maxVocabulary = 1 << 20

    /// The configs of the networks in `shapes`; `prediction` (default: the family's usual one) chooses the
    /// native size of SD 2.x (epsilon: 512 px base models, v: 768 px).
    public static func configs(shapes: [String: [Int]], source: String,
                               prediction: PredictionType? = nil) throws -> StableDiffusionModels.Configs {
        var c = StableDiffusionModels.Configs()
        let family = ModelFamily.of(singleFile: shapes)
        c.unet = try unet(shapes, source: source)
        c.vae = try vae(shapes, source: source)
        c.textEncoder = TextEncoderLayout.of(shapes) == .openCLIP ? try openCLIPText(shapes, source: source)
                                                                    : try text(shapes, source: source)
        family.applyDefaults(to: &c, prediction: prediction ?? (family == .sd2 ? .v : .epsilon))
        try InferredModelSize.check(c, shapes: shapes, source: source)
        return c
    }

    /// Inferred configs, checked: what the shapes cannot tell (norm groups, heads) is assumed, and an error
    /// says so when that assumption does not fit the file.
    public static func checkedConfigs(shapes: [String: [Int]], source: String,
                                      prediction: PredictionType? = nil) throws -> StableDiffusionModels.Configs {
        let c = try configs(shapes: shapes, source: source, prediction: prediction)
        let label = "\(source) (architecture inferred from tensor shapes; pass --config with a diffusers folder to override)"
        try c.unet.validate(file: label)
        try c.vae.validate(file: label)
        try c.textEncoder.validate(file: label)
        return c
    }

    static func fail(_ source: String, _ message: String) -> ModelError {
        ModelError.weights(source: source, problems: ["cannot infer the architecture: \(message)"])
    }

    /// The shape of tensor `key`: present, with `rank` dimensions, none of them empty.
    static func need(_ shapes: [String: [Int]], _ key: String, rank: Int, source: String) throws -> [Int] {
        guard let s = shapes[key] else { throw fail(source, "missing tensor '\(key)'") }
        guard s.count == rank else { throw fail(source, "tensor '\(key)' has shape \(s), expected \(rank) dimensions") }
        guard s.allSatisfy({ $0 > 0 }) else { throw fail(source, "tensor '\(key)' has an empty dimension in its shape \(s)") }
        return s
    }

    /// A size read from tensor `key`, checked against `limit`.
    static func bounded(_ value: Int, _ what: String, key: String, limit: Int = maxChannels, source: String) throws -> Int {
        guard value <= limit else {
            throw fail(source, "tensor '\(key)' gives \(what) \(value), more than the supported \(limit)")
        }
        return value
    }

    /// Tensor `key`, which must be a convolution from `in` to `out` channels (nil: any) [out, in, k, k].
    static func conv(_ shapes: [String: [Int]], _ key: String, in cin: Int? = nil, out cout: Int? = nil,
                     source: String) throws -> [Int] {
        let s = try need(shapes, key, rank: 4, source: source)
        if let cin, s[1] != cin { throw fail(source, "tensor '\(key)' has shape \(s): expected \(cin) input channels") }
        if let cout, s[0] != cout { throw fail(source, "tensor '\(key)' has shape \(s): expected \(cout) output channels") }
        return s
    }

    /// The distinct block indices `N` of keys `prefix` + `N.`..., each checked (digits only, at most
    /// `LDMKeyMap.maxBlockIndex`).
    static func indices(_ shapes: [String: [Int]], after prefix: String, source: String) throws -> Set<Int> {
        var found: Set<Int> = []
        for key in shapes.keys where key.hasPrefix(prefix) {
            let text = key.dropFirst(prefix.count).prefix { $0 != "." }
            guard let i = LDMKeyMap.blockIndex(text) else {
                throw fail(source, "tensor '\(key)': block index '\(text.prefix(30))' is not a number from 0 to \(LDMKeyMap.maxBlockIndex)")
            }
            found.insert(i)
        }
        return found
    }

    static func unet(_ shapes: [String: [Int]], source: String) throws -> UNetConfig {
        let p = LDMKeyMap.unetPrefix
        var c = UNetConfig()
        let inputIndices = try indices(shapes, after: p + "input_blocks.", source: source)
        let firstDown = inputIndices.sorted().first { shapes[p + "input_blocks.\($0).0.op.weight"] != nil }
        let count = (inputIndices.max() ?? 0) + 1
        let layers = firstDown.map { $0 - 1 } ?? (count - 1)
        guard layers >= 1, layers <= maxLayersPerBlock else {
            throw fail(source, "cannot infer layers_per_block (the input blocks give \(layers); 1 to \(maxLayersPerBlock) supported)")
        }
        let levels = count / (layers + 1)
        guard levels >= 1, levels <= maxLevels else {
            throw fail(source, "the input blocks give \(levels) UNet levels (1 to \(maxLevels) supported)")
        }
        c.layersPerBlock = layers
        var channels: [Int] = [], down: [String] = [], up: [String] = []
        var tLayers: [Int] = []
        for i in 0..<levels {
            let k = (layers + 1) * i + 1
            let key = p + "input_blocks.\(k).0.out_layers.3.weight"
            let s = try conv(shapes, key, source: source)
            guard s[1] == s[0] else { throw fail(source, "tensor '\(key)' has shape \(s): a resnet's second convolution keeps its channel count") }
            channels.append(try bounded(s[0], "block_out_channels", key: key, source: source))
            let attn = p + "input_blocks.\(k).1."
            let hasAttn = shapes.keys.contains { $0.hasPrefix(attn) }
            down.append(hasAttn ? "CrossAttnDownBlock2D" : "DownBlock2D")
            let transformers = try indices(shapes, after: attn + "transformer_blocks.", source: source).count
            guard transformers <= maxLayersPerBlock else {
                throw fail(source, "'\(attn)transformer_blocks' has \(transformers) layers (at most \(maxLayersPerBlock) supported)")
            }
            tLayers.append(transformers)
            let upAttn = p + "output_blocks.\((layers + 1) * i).1.transformer_blocks."
            up.append(shapes.keys.contains { $0.hasPrefix(upAttn) } ? "CrossAttnUpBlock2D" : "UpBlock2D")
        }
        let convIn = try conv(shapes, p + "input_blocks.0.0.weight", out: channels[0], source: source)
        c.inChannels = try bounded(convIn[1], "in_channels", key: p + "input_blocks.0.0.weight", source: source)
        let convOut = try conv(shapes, p + "out.2.weight", in: channels[0], source: source)
        c.outChannels = try bounded(convOut[0], "out_channels", key: p + "out.2.weight", source: source)
        c.blockOutChannels = channels
        c.downBlockTypes = down
        c.upBlockTypes = up
        let withAttn = tLayers.filter { $0 > 0 }
        c.transformerLayersPerBlock = .one(withAttn.first ?? 1)
        if let key = shapes.keys.first(where: { $0.hasPrefix(p) && $0.hasSuffix("attn2.to_k.weight") }) {
            let s = try need(shapes, key, rank: 2, source: source)
            guard channels.contains(s[0]) else { throw fail(source, "tensor '\(key)' has shape \(s): its \(s[0]) outputs match no level's channels \(channels)") }
            c.crossAttentionDim = try bounded(s[1], "cross_attention_dim", key: key, source: source)
        }
        if let key = shapes.keys.first(where: { $0.hasPrefix(p) && $0.hasSuffix("proj_in.weight") }), let s = shapes[key] {
            c.useLinearProjection = s.count == 2
        }
        return c
    }

    static func vae(_ shapes: [String: [Int]], source: String) throws -> VAEConfig {
        let p = LDMKeyMap.vaePrefix
        var c = VAEConfig()
        var channels: [Int] = []
        while channels.count <= maxLevels {
            let key = p + "encoder.down.\(channels.count).block.0.conv2.weight"
            guard shapes[key] != nil else { break }
            let s = try conv(shapes, key, source: source)
            guard s[1] == s[0] else { throw fail(source, "tensor '\(key)' has shape \(s): a resnet's second convolution keeps its channel count") }
            channels.append(try bounded(s[0], "block_out_channels", key: key, source: source))
        }
        guard !channels.isEmpty else { throw fail(source, "cannot infer the VAE levels (no '\(p)encoder.down.0.block.0.conv2.weight')") }
        guard channels.count <= maxLevels else { throw fail(source, "the VAE has more than \(maxLevels) levels") }
        let convIn = try conv(shapes, p + "encoder.conv_in.weight", out: channels[0], source: source)
        c.inChannels = try bounded(convIn[1], "in_channels", key: p + "encoder.conv_in.weight", source: source)
        let convOut = try conv(shapes, p + "decoder.conv_out.weight", in: channels[0], source: source)
        c.outChannels = try bounded(convOut[0], "out_channels", key: p + "decoder.conv_out.weight", source: source)
        let latentIn = try conv(shapes, p + "decoder.conv_in.weight", out: channels[channels.count - 1], source: source)
        c.latentChannels = try bounded(latentIn[1], "latent_channels", key: p + "decoder.conv_in.weight", source: source)
        c.blockOutChannels = channels
        var layers = 0
        while layers <= maxLayersPerBlock, shapes[p + "encoder.down.0.block.\(layers).conv1.weight"] != nil { layers += 1 }
        guard layers <= maxLayersPerBlock else { throw fail(source, "the VAE has more than \(maxLayersPerBlock) layers per block") }
        c.layersPerBlock = layers
        c.downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: channels.count)
        c.upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: channels.count)
        return c
    }

    static func text(_ shapes: [String: [Int]], source: String) throws -> CLIPTextConfig {
        let prefixes = [LDMKeyMap.textPrefix + "text_model.", LDMKeyMap.textPrefix]
        guard let p = prefixes.first(where: { shapes[$0 + "embeddings.token_embedding.weight"] != nil }) else {
            throw fail(source, "cannot infer the text encoder: no token embedding")
        }
        var c = try textWidths(shapes, token: p + "embeddings.token_embedding.weight",
                               position: p + "embeddings.position_embedding.weight",
                               firstFC: p + "encoder.layers.0.mlp.fc1.weight", source: source)
        var layers = 0
        while layers <= maxTextLayers, shapes[p + "encoder.layers.\(layers).mlp.fc1.weight"] != nil { layers += 1 }
        guard layers <= maxTextLayers else { throw fail(source, "the text encoder has more than \(maxTextLayers) layers") }
        c.numHiddenLayers = layers
        return c
    }

    /// A text encoder's vocabulary, width, positions and feed-forward width from its token embedding
    /// [vocabulary, width], position embedding [positions, width] and first feed-forward layer [inner, width];
    /// one head per 64 channels.
    static func textWidths(_ shapes: [String: [Int]], token tokKey: String, position posKey: String, firstFC fcKey: String,
                           source: String) throws -> CLIPTextConfig {
        var c = CLIPTextConfig()
        let tok = try need(shapes, tokKey, rank: 2, source: source)
        c.vocabSize = try bounded(tok[0], "vocab_size", key: tokKey, limit: maxVocabulary, source: source)
        c.hiddenSize = try bounded(tok[1], "hidden_size", key: tokKey, source: source)
        let pos = try need(shapes, posKey, rank: 2, source: source)
        guard pos[1] == c.hiddenSize else { throw fail(source, "tensor '\(posKey)' has shape \(pos): expected width \(c.hiddenSize)") }
        c.maxPositionEmbeddings = try bounded(pos[0], "max_position_embeddings", key: posKey, limit: maxVocabulary, source: source)
        let fc = try need(shapes, fcKey, rank: 2, source: source)
        guard fc[1] == c.hiddenSize else { throw fail(source, "tensor '\(fcKey)' has shape \(fc): expected \(c.hiddenSize) inputs") }
        c.intermediateSize = try bounded(fc[0], "intermediate_size", key: fcKey, limit: 4 * maxChannels, source: source)
        c.numAttentionHeads = max(1, c.hiddenSize / 64)
        return c
    }

    /// The resblocks an OpenCLIP text tower holds (`cond_stage_model.model.transformer.resblocks.N`, counted
    /// from 0 while present, at most `maxTextLayers` + 1).
    public static func openCLIPResblocks(_ shapes: [String: [Int]]) -> Int {
        var n = 0
        while n <= maxTextLayers, shapes[OpenCLIPKeyMap.prefix + "transformer.resblocks.\(n).mlp.c_fc.weight"] != nil { n += 1 }
        return n
    }

    /// An OpenCLIP text tower (SD 2.x) as the CLIPTextModel diffusers builds for it: one layer fewer than
    /// the file holds (SD 2 conditions on the penultimate layer, then the final LayerNorm), GELU.
    static func openCLIPText(_ shapes: [String: [Int]], source: String) throws -> CLIPTextConfig {
        let p = OpenCLIPKeyMap.prefix
        var c = try textWidths(shapes, token: p + "token_embedding.weight", position: p + "positional_embedding",
                               firstFC: p + "transformer.resblocks.0.mlp.c_fc.weight", source: source)
        let inKey = p + "transformer.resblocks.0.attn.in_proj_weight"
        let inProj = try need(shapes, inKey, rank: 2, source: source)
        if let problem = SlicedSource.stackedShapeProblem(inProj, width: c.hiddenSize) {
            throw fail(source, "tensor '\(inKey)' has shape \(inProj): \(problem)")
        }
        let held = openCLIPResblocks(shapes)
        guard held <= maxTextLayers else { throw fail(source, "the text encoder has more than \(maxTextLayers) resblocks") }
        guard held >= 2 else {
            throw fail(source, "the OpenCLIP text encoder has \(held) resblock(s); SD 2 runs all but the last, so at least 2 are needed")
        }
        c.numHiddenLayers = held - 1
        c.hiddenAct = "gelu"
        return c
    }
}
