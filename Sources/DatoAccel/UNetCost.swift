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
        let ch = c.blockOutChannels, n = ch.count, l = c.layersPerBlock, c0 = ch[0], temb = Double(4 * c0)
        let crossWidth = Double(c.crossAttentionDim)
        let layers = c.transformerLayersPerBlock.perBlock(n)
        func resnet(_ cin: Int, _ cout: Int, _ px: Int) -> Double {
            let p = Double(px), i = Double(cin), o = Double(cout)
            return 9 * i * o * p + 9 * o * o * p + (cin == cout ? 0 : i * o * p) + temb * o
        }
        func transformer(_ chn: Int, _ px: Int, _ depth: Int) -> Double {
            let c = Double(chn), t = Double(px), x = Double(contextTokens), cc = crossWidth
            let block = 4 * t * c * c + 2 * t * t * c              // self-attention projections + matmuls
                + 2 * t * c * c + 2 * x * cc * c + 2 * t * x * c   // cross-attention
                + 12 * t * c * c                                   // GEGLU feed-forward
            return 2 * t * c * c + Double(depth) * block
        }
        var sizes = [(height, width)]
        for _ in 1..<n { let s = sizes[sizes.count - 1]; sizes.append(((s.0 + 1) / 2, (s.1 + 1) / 2)) }
        let px = sizes.map { $0.0 * $0.1 }
        var down = [9 * Double(c.inChannels * c0 * px[0])]   // D_0 = conv_in
        func stack(_ prefix: String, _ level: Int, _ count: Int) -> [Layer] {
            (0..<count).map { Layer(path: "\(prefix).transformer_blocks.\($0)", level: level, channels: ch[level]) }
        }
        var downAttn: [[Layer]] = [[]], upAttnByExecution: [[Layer]] = []
        var skipChannels = [c0]
        var cin = c0
        for i in 0..<n {
            let cross = c.downBlockTypes[i] == "CrossAttnDownBlock2D"
            for j in 0..<l {
                down.append(resnet(j == 0 ? cin : ch[i], ch[i], px[i]) + (cross ? transformer(ch[i], px[i], layers[i]) : 0))
                downAttn.append(cross ? stack("down_blocks.\(i).attentions.\(j)", i, layers[i]) : [])
                skipChannels.append(ch[i])
            }
            if i < n - 1 {
                down.append(9 * Double(ch[i] * ch[i] * px[i + 1]))
                downAttn.append([])
                skipChannels.append(ch[i])
            }
            cin = ch[i]
        }
        let last = ch[n - 1]
        mid = 2 * resnet(last, last, px[n - 1]) + transformer(last, px[n - 1], layers[n - 1])
        var upByExecution: [Double] = []
        var prev = last
        for i in 0..<n {
            let level = n - 1 - i, out = ch[level]
            let cross = c.upBlockTypes[i] == "CrossAttnUpBlock2D"
            for j in 0...l {
                let skip = skipChannels.removeLast()
                var m = resnet((j == 0 ? prev : out) + skip, out, px[level])
                if cross { m += transformer(out, px[level], layers[level]) }
                if j == l && i < n - 1 { m += 9 * Double(out * out * px[level - 1]) }   // upsampler conv at the finer grid
                upByExecution.append(m)
                upAttnByExecution.append(cross ? stack("up_blocks.\(i).attentions.\(j)", level, layers[level]) : [])
            }
            prev = out
        }
        self.down = down
        up = upByExecution.reversed()
        grids = sizes.map { (h: $0.0, w: $0.1) }
        downLayers = downAttn
        upLayers = upAttnByExecution.reversed()
        midLayers = stack("mid_block.attentions.0", n - 1, layers[n - 1])
        self.contextTokens = contextTokens
        self.crossWidth = c.crossAttentionDim
        always = Double(c0) * temb + temb * temb + 9 * Double(c0 * c.outChannels * px[0])
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
