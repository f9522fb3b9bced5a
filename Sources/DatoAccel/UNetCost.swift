import DatoModels

/// An analytical multiply-accumulate (MAC) count of UNet calls: convolutions, linear layers and the two
/// attention matmuls; norms, activations and the text encoder / VAE are not counted (docs/methods/caching.md, "Cost").
public struct UNetCost: Sendable {
    /// MACs of D_0..D_{n-1} and of U_0..U_{n-1} (index = skip id), the mid block and what every call runs
    /// (time embedding and head), for one batch row.
    public let down: [Double], up: [Double]
    public let mid: Double, always: Double
    /// Token grid (h, w) of each level.
    public let grids: [(h: Int, w: Int)]
    /// A transformer layer (BasicTransformerBlock) by diffusers path, with its level and width.
    public struct Layer: Sendable {
        public let path: String
        public let level: Int, channels: Int
    }
    /// The transformer layers inside each down / up unit (index = skip id) and the mid block.
    public let downLayers: [[Layer]], upLayers: [[Layer]], midLayers: [Layer]
    let contextTokens: Int, crossWidth: Int

    /// Counts for a latent of `height x width` and a text context of `contextTokens` tokens.
    public init(config c: UNetConfig, height: Int, width: Int, contextTokens: Int = 77) {
        let shape = Shape(config: c, height: height, width: width, contextTokens: contextTokens)
        let n = shape.levels, last = c.blockOutChannels[n - 1]
        let downs = Self.downUnits(shape)
        let ups = Self.upUnits(shape, skipChannels: downs.skipChannels)
        down = downs.macs
        downLayers = downs.layers
        up = ups.macs.reversed()
        upLayers = ups.layers.reversed()
        mid = 2 * shape.resnet(last, last, level: n - 1) + shape.transformer(last, level: n - 1)
        midLayers = shape.stack("mid_block.attentions.0", level: n - 1)
        grids = shape.sizes.map { (h: $0.0, w: $0.1) }
        self.contextTokens = contextTokens
        crossWidth = c.crossAttentionDim
        let c0 = c.blockOutChannels[0]
        always = Double(c0) * shape.temb + shape.temb * shape.temb + 9 * Double(c0 * c.outChannels * shape.pixels[0])
    }

    /// The sizes a count needs: per-level grids and pixel counts, and the MACs of a resnet and a transformer
    /// stack at a level.
    struct Shape {
        let config: UNetConfig
        let sizes: [(Int, Int)], pixels: [Int]
        let layersPerLevel: [Int]
        let temb: Double, contextTokens: Int
        var levels: Int { sizes.count }

        init(config c: UNetConfig, height: Int, width: Int, contextTokens: Int) {
            config = c
            var sizes = [(height, width)]
            for _ in 1..<c.blockOutChannels.count {
                let s = sizes[sizes.count - 1]
                sizes.append(((s.0 + 1) / 2, (s.1 + 1) / 2))
            }
            self.sizes = sizes
            pixels = sizes.map { $0.0 * $0.1 }
            layersPerLevel = c.transformerLayersPerBlock.perBlock(c.blockOutChannels.count)
            temb = Double(4 * c.blockOutChannels[0])
            self.contextTokens = contextTokens
        }

        /// A resnet from `cin` to `cout` channels at `level`: two 3x3 convolutions, the shortcut, the time projection.
        func resnet(_ cin: Int, _ cout: Int, level: Int) -> Double {
            let p = Double(pixels[level]), i = Double(cin), o = Double(cout)
            return 9 * i * o * p + 9 * o * o * p + (cin == cout ? 0 : i * o * p) + temb * o
        }

        /// A Transformer2DModel of `channels` at `level`: projections in and out, and its blocks.
        func transformer(_ channels: Int, level: Int) -> Double {
            let c = Double(channels), t = Double(pixels[level]), x = Double(contextTokens)
            let cc = Double(config.crossAttentionDim)
            let block = 4 * t * c * c + 2 * t * t * c              // self-attention projections + matmuls
                + 2 * t * c * c + 2 * x * cc * c + 2 * t * x * c   // cross-attention
                + 12 * t * c * c                                   // GEGLU feed-forward
            return 2 * t * c * c + Double(layersPerLevel[level]) * block
        }

        /// The transformer layers of the Transformer2DModel at `prefix` (a module path) at `level`.
        func stack(_ prefix: String, level: Int) -> [Layer] {
            (0..<layersPerLevel[level]).map {
                Layer(path: "\(prefix).transformer_blocks.\($0)", level: level, channels: config.blockOutChannels[level])
            }
        }
    }

    /// D_0 (conv_in) ... D_{n-1}: MACs, transformer layers, and the channels each leaves on the skip stack.
    static func downUnits(_ shape: Shape) -> (macs: [Double], layers: [[Layer]], skipChannels: [Int]) {
        let c = shape.config, ch = c.blockOutChannels, n = ch.count
        var macs = [9 * Double(c.inChannels * ch[0] * shape.pixels[0])], layers: [[Layer]] = [[]]
        var skipChannels = [ch[0]], cin = ch[0]
        for i in 0..<n {
            let cross = c.downBlockTypes[i] == "CrossAttnDownBlock2D"
            for j in 0..<c.layersPerBlock {
                macs.append(shape.resnet(j == 0 ? cin : ch[i], ch[i], level: i) + (cross ? shape.transformer(ch[i], level: i) : 0))
                layers.append(cross ? shape.stack("down_blocks.\(i).attentions.\(j)", level: i) : [])
                skipChannels.append(ch[i])
            }
            if i < n - 1 {
                macs.append(9 * Double(ch[i] * ch[i] * shape.pixels[i + 1]))   // the downsampler
                layers.append([])
                skipChannels.append(ch[i])
            }
            cin = ch[i]
        }
        return (macs, layers, skipChannels)
    }

    /// The up units in execution order (U_{n-1} first): MACs and transformer layers, reading the skip stack.
    static func upUnits(_ shape: Shape, skipChannels: [Int]) -> (macs: [Double], layers: [[Layer]]) {
        let c = shape.config, ch = c.blockOutChannels, n = ch.count, l = c.layersPerBlock
        var skips = skipChannels, macs: [Double] = [], layers: [[Layer]] = []
        var prev = ch[n - 1]
        for i in 0..<n {
            let level = n - 1 - i, out = ch[level]
            let cross = c.upBlockTypes[i] == "CrossAttnUpBlock2D"
            for j in 0...l {
                let skip = skips.removeLast()
                var m = shape.resnet((j == 0 ? prev : out) + skip, out, level: level)
                if cross { m += shape.transformer(out, level: level) }
                if j == l && i < n - 1 { m += 9 * Double(out * out * shape.pixels[level - 1]) }   // upsampler conv at the finer grid
                macs.append(m)
                layers.append(cross ? shape.stack("up_blocks.\(i).attentions.\(j)", level: level) : [])
            }
            prev = out
        }
        return (macs, layers)
    }

    /// Units in the call (12 for SD 1.x).
    public var units: Int { down.count }

    /// MACs of one call at plan depth `d` for one batch row (0 for d = 0).
    public func macs(depth d: Int) -> Double {
        if d == 0 { return 0 }
        if d >= units { return down.reduce(0, +) + mid + up.reduce(0, +) + always }
        return down[0..<d].reduce(0, +) + up[0..<d].reduce(0, +) + always
    }

    /// MACs of a whole plan, per batch row.
    public func macs(plan: AccelerationPlan) -> Double {
        plan.depths.reduce(0) { $0 + macs(depth: $1) }
    }

    /// The transformer layers a call at depth `d` runs.
    public func layers(depth d: Int) -> [Layer] {
        guard d > 0 else { return [] }
        let limit = min(d, units)
        return (0..<limit).flatMap { downLayers[$0] + upLayers[$0] } + (d >= units ? midLayers : [])
    }

    /// MACs of one transformer layer of width `c` run with the given token counts (docs/methods/caching.md, "Cost";
    /// without proj_in/proj_out which always see every token).
    public func layerMACs(channels c: Int, tokens t: LayerTokens) -> Double {
        let c = Double(c), q = Double(t.selfQueries), kv = Double(t.selfKeys), x = Double(t.cross), f = Double(t.ffn)
        let l = Double(contextTokens), dt = Double(crossWidth)
        return 2 * q * c * c + 2 * kv * c * c + 2 * q * kv * c   // self-attention: Q, out / K, V projections; matmuls
            + 2 * x * c * c + 2 * l * dt * c + 2 * x * l * c     // cross-attention
            + 12 * f * c * c                                      // GEGLU feed-forward
    }

    /// MACs of one call at depth `d` when the layers for which `tokens` returns counts ran reduced.
    public func macs(depth d: Int, tokens: (Layer) -> LayerTokens?) -> Double {
        var total = macs(depth: d)
        for layer in layers(depth: d) {
            guard let t = tokens(layer) else { continue }
            let n = grids[layer.level].h * grids[layer.level].w
            total -= layerMACs(channels: layer.channels, tokens: .dense(n)) - layerMACs(channels: layer.channels, tokens: t)
        }
        return total
    }
}
