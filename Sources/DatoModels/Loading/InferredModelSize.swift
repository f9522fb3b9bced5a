/// A lower bound on the weights a network needs, from its config: only tensors the model certainly asks
/// for, with the shapes it certainly asks for (a resnet's second 3x3 convolution, attention projections,
/// embeddings). A file that loads holds at least that many elements under the network's prefix, so an
/// inferred config that needs more than the file holds comes from a corrupt or hostile file, and is refused
/// before a model (and its placeholders for missing tensors) is allocated from it.
enum InferredModelSize {
    /// Refuses configs whose networks need more weights than the file's tensors under their prefixes hold.
    static func check(_ c: StableDiffusionModels.Configs, shapes: [String: [Int]], source: String) throws {
        let parts: [(String, String, Int)] = [
            ("UNet", LDMKeyMap.unetPrefix, unet(c.unet)),
            ("VAE", LDMKeyMap.vaePrefix, vae(c.vae)),
            ("text encoder", TextEncoderLayout.of(shapes).prefix, text(c.textEncoder)),
        ]
        for (name, prefix, needed) in parts {
            let held = elements(shapes, prefix: prefix)
            guard needed <= held else {
                throw ModelError.weights(source: source, problems: [
                    "cannot infer the architecture: the inferred \(name) needs at least \(needed) weights, but the file's '\(prefix)' tensors hold only \(held)",
                ])
            }
        }
    }

    /// Elements of the tensors whose names start with `prefix` (saturating at `Int.max`).
    static func elements(_ shapes: [String: [Int]], prefix: String) -> Int {
        var total = 0
        for (name, shape) in shapes where name.hasPrefix(prefix) {
            total = add(total, shape.reduce(1) { mul($0, max(0, $1)) })
        }
        return total
    }

    static func unet(_ c: UNetConfig) -> Int {
        let l = max(0, c.layersPerBlock)
        let t = c.transformerLayersPerBlock.perBlock(c.blockOutChannels.count)
        var total = 0
        for (i, ch) in c.blockOutChannels.enumerated() {
            let conv = mul(9, mul(ch, ch))                                               // conv2 [c, c, 3, 3]
            let layers = i < t.count ? max(0, t[i]) : 0
            let attention = mul(layers, add(mul(4, mul(ch, ch)), mul(2, mul(ch, max(0, c.crossAttentionDim)))))
            if i < c.downBlockTypes.count { total = add(total, mul(l, add(conv, c.downBlockTypes[i].hasPrefix("CrossAttn") ? attention : 0))) }
            let upIndex = c.blockOutChannels.count - 1 - i
            if upIndex < c.upBlockTypes.count { total = add(total, mul(l + 1, add(conv, c.upBlockTypes[upIndex].hasPrefix("CrossAttn") ? attention : 0))) }
        }
        return total
    }

    static func vae(_ c: VAEConfig) -> Int {
        let l = max(0, c.layersPerBlock)
        return c.blockOutChannels.reduce(0) { add($0, mul(2 * l + 1, mul(9, mul($1, $1)))) }   // encoder l, decoder l + 1 resnets
    }

    static func text(_ c: CLIPTextConfig) -> Int {
        let h = c.hiddenSize, layer = add(mul(4, mul(h, h)), mul(2, mul(h, c.intermediateSize)))
        return add(mul(max(0, c.numHiddenLayers), layer), mul(add(c.vocabSize, c.maxPositionEmbeddings), h))
    }

    static func add(_ a: Int, _ b: Int) -> Int {
        let (s, o) = a.addingReportingOverflow(b)
        return o ? .max : s
    }

    static func mul(_ a: Int, _ b: Int) -> Int {
        let (p, o) = a.multipliedReportingOverflow(by: b)
        return o ? .max : p
    }
}
