/// Infers SD 1.x network configs from the tensor shapes of an original single-file checkpoint: what the
/// shapes determine (channels per level, layers per block, block types, cross-attention width, projection
/// kind, text encoder width/depth, VAE channels and latent channels). What they cannot determine takes SD 1.x
/// defaults: 8 attention heads, 32 norm groups, 64-wide text heads (12 for ViT-L/14).
public enum ArchitectureInference {
    public static func configs(shapes: [String: [Int]], source: String) throws -> StableDiffusionModels.Configs {
        var c = StableDiffusionModels.Configs()
        c.unet = try unet(shapes, source: source)
        c.vae = try vae(shapes, source: source)
        c.textEncoder = try text(shapes, source: source)
        return c
    }

    /// Inferred configs, checked: what the shapes cannot tell (norm groups, heads) is assumed, and an error
    /// says so when that assumption does not fit the file.
    public static func checkedConfigs(shapes: [String: [Int]], source: String) throws -> StableDiffusionModels.Configs {
        let c = try configs(shapes: shapes, source: source)
        let label = "\(source) (architecture inferred from tensor shapes; pass --config with a diffusers folder to override)"
        try c.unet.validate(file: label)
        try c.vae.validate(file: label)
        try c.textEncoder.validate(file: label)
        return c
    }

    static func need(_ shapes: [String: [Int]], _ key: String, source: String) throws -> [Int] {
        guard let s = shapes[key] else {
            throw ModelError.weights(source: source, problems: ["cannot infer the architecture: missing tensor '\(key)'"])
        }
        return s
    }

    static func unet(_ shapes: [String: [Int]], source: String) throws -> UNetConfig {
        let p = LDMKeyMap.unetPrefix
        var c = UNetConfig()
        let convIn = try need(shapes, p + "input_blocks.0.0.weight", source: source)
        c.inChannels = convIn[1]
        c.outChannels = try need(shapes, p + "out.2.weight", source: source)[0]
        let inputIndices = Set(shapes.keys.compactMap { key -> Int? in
            guard key.hasPrefix(p + "input_blocks.") else { return nil }
            return Int(key.dropFirst((p + "input_blocks.").count).prefix { $0 != "." })
        })
        let firstDown = inputIndices.sorted().first { shapes[p + "input_blocks.\($0).0.op.weight"] != nil }
        let count = (inputIndices.max() ?? 0) + 1
        let layers = firstDown.map { $0 - 1 } ?? (count - 1)
        guard layers >= 1 else { throw ModelError.weights(source: source, problems: ["cannot infer layers_per_block"]) }
        let levels = count / (layers + 1)
        c.layersPerBlock = layers
        var channels: [Int] = [], down: [String] = [], up: [String] = []
        var tLayers: [Int] = []
        for i in 0..<levels {
            let k = (layers + 1) * i + 1
            channels.append(try need(shapes, p + "input_blocks.\(k).0.out_layers.3.weight", source: source)[0])
            let attn = p + "input_blocks.\(k).1."
            let hasAttn = shapes.keys.contains { $0.hasPrefix(attn) }
            down.append(hasAttn ? "CrossAttnDownBlock2D" : "DownBlock2D")
            tLayers.append(Set(shapes.keys.compactMap { key -> Int? in
                guard key.hasPrefix(attn + "transformer_blocks.") else { return nil }
                return Int(key.dropFirst((attn + "transformer_blocks.").count).prefix { $0 != "." })
            }).count)
            let upAttn = p + "output_blocks.\((layers + 1) * i).1.transformer_blocks."
            up.append(shapes.keys.contains { $0.hasPrefix(upAttn) } ? "CrossAttnUpBlock2D" : "UpBlock2D")
        }
        c.blockOutChannels = channels
        c.downBlockTypes = down
        c.upBlockTypes = up
        let withAttn = tLayers.filter { $0 > 0 }
        c.transformerLayersPerBlock = .one(withAttn.first ?? 1)
        if let key = shapes.keys.first(where: { $0.hasPrefix(p) && $0.hasSuffix("attn2.to_k.weight") }), let s = shapes[key] {
            c.crossAttentionDim = s[1]
        }
        if let key = shapes.keys.first(where: { $0.hasPrefix(p) && $0.hasSuffix("proj_in.weight") }), let s = shapes[key] {
            c.useLinearProjection = s.count == 2
        }
        return c
    }

    static func vae(_ shapes: [String: [Int]], source: String) throws -> VAEConfig {
        let p = LDMKeyMap.vaePrefix
        var c = VAEConfig()
        c.inChannels = try need(shapes, p + "encoder.conv_in.weight", source: source)[1]
        c.outChannels = try need(shapes, p + "decoder.conv_out.weight", source: source)[0]
        c.latentChannels = try need(shapes, p + "decoder.conv_in.weight", source: source)[1]
        var channels: [Int] = []
        while let s = shapes[p + "encoder.down.\(channels.count).block.0.conv2.weight"] { channels.append(s[0]) }
        guard !channels.isEmpty else { throw ModelError.weights(source: source, problems: ["cannot infer the VAE levels"]) }
        c.blockOutChannels = channels
        var layers = 0
        while shapes[p + "encoder.down.0.block.\(layers).conv1.weight"] != nil { layers += 1 }
        c.layersPerBlock = layers
        c.downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: channels.count)
        c.upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: channels.count)
        return c
    }

    static func text(_ shapes: [String: [Int]], source: String) throws -> CLIPTextConfig {
        var c = CLIPTextConfig()
        let prefixes = [LDMKeyMap.textPrefix + "text_model.", LDMKeyMap.textPrefix]
        guard let p = prefixes.first(where: { shapes[$0 + "embeddings.token_embedding.weight"] != nil }),
              let tok = shapes[p + "embeddings.token_embedding.weight"] else {
            throw ModelError.weights(source: source, problems: ["cannot infer the text encoder: no token embedding"])
        }
        c.vocabSize = tok[0]
        c.hiddenSize = tok[1]
        c.maxPositionEmbeddings = try need(shapes, p + "embeddings.position_embedding.weight", source: source)[0]
        c.intermediateSize = try need(shapes, p + "encoder.layers.0.mlp.fc1.weight", source: source)[0]
        var layers = 0
        while shapes[p + "encoder.layers.\(layers).mlp.fc1.weight"] != nil { layers += 1 }
        c.numHiddenLayers = layers
        c.numAttentionHeads = max(1, c.hiddenSize / 64)
        return c
    }
}
