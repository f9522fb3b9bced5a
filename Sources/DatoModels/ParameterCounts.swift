/// The parameter counts the three configs describe, computed from the config alone (no weights) with checked
/// arithmetic, module for module as the models are built. They bound what building a model allocates, so a
/// config can be checked against `ModelBounds.maxParameters` and against its weights file before any weight
/// is allocated. `describedParameters` runs on configs whose fields passed their range checks;
/// `parameterCount` validates first.
extension ParameterTally {
    /// diffusers `ResnetBlock2D` (with a time projection when `temb` is given).
    mutating func resnet(_ cin: Int, _ cout: Int, temb: Int?) throws {
        try norm(cin)
        try conv(cin, cout, kernel: 3)
        if let temb { try linear(temb, cout) }
        try norm(cout)
        try conv(cout, cout, kernel: 3)
        if cin != cout { try conv(cin, cout, kernel: 1) }
    }

    /// diffusers `Transformer2DModel` with `layers` `BasicTransformerBlock`s (GEGLU feed-forward, mult 4).
    mutating func transformer(_ dim: Int, context: Int, layers: Int) throws {
        var block = ParameterTally(file: file)
        try block.norm(dim); try block.norm(dim); try block.norm(dim)
        for keys in [dim, context] {   // attn1 (self), attn2 (cross): to_q, to_k, to_v without bias, to_out.0
            try block.linear(dim, dim, bias: false)
            try block.linear(keys, dim, bias: false)
            try block.linear(keys, dim, bias: false)
            try block.linear(dim, dim)
        }
        try block.linear(dim, 8 * dim)
        try block.linear(4 * dim, dim)
        try norm(dim)
        try linear(dim, dim)   // proj_in (a 1x1 conv holds as many)
        try add(block, times: layers)
        try linear(dim, dim)   // proj_out
    }
}

extension UNetConfig {
    /// The parameters of the `UNet2DConditionModel` this config describes (SD 1.5: 859,520,964); `file` names
    /// the config in the error should the count overflow.
    func describedParameters(file: String) throws -> Int {
        var t = ParameterTally(file: file)
        let ch = blockOutChannels, n = ch.count, c0 = ch[0], temb = 4 * c0
        let layers = transformerLayersPerBlock.perBlock(n), context = crossAttentionDim
        try t.linear(c0, temb)
        try t.linear(temb, temb)
        try t.conv(inChannels, c0, kernel: 3)
        var input = c0
        for i in 0..<n {
            for j in 0..<layersPerBlock {
                try t.resnet(j == 0 ? input : ch[i], ch[i], temb: temb)
                if downBlockTypes[i] == "CrossAttnDownBlock2D" { try t.transformer(ch[i], context: context, layers: layers[i]) }
            }
            if i < n - 1 { try t.conv(ch[i], ch[i], kernel: 3) }
            input = ch[i]
        }
        try t.resnet(ch[n - 1], ch[n - 1], temb: temb)
        try t.transformer(ch[n - 1], context: context, layers: layers[n - 1])
        try t.resnet(ch[n - 1], ch[n - 1], temb: temb)
        let rev = Array(ch.reversed()), revLayers = Array(layers.reversed())
        for i in 0..<n {
            let out = rev[i], previous = rev[max(i - 1, 0)], skipIn = rev[min(i + 1, n - 1)]
            for j in 0...layersPerBlock {
                try t.resnet((j == 0 ? previous : out) + (j == layersPerBlock ? skipIn : out), out, temb: temb)
                if upBlockTypes[i] == "CrossAttnUpBlock2D" { try t.transformer(out, context: context, layers: revLayers[i]) }
            }
            if i < n - 1 { try t.conv(out, out, kernel: 3) }
        }
        try t.norm(c0)
        try t.conv(c0, outChannels, kernel: 3)
        return t.total
    }
}

extension VAEConfig {
    /// The parameters of the `AutoencoderKL` this config describes, encoder and decoder (SD 1.x: 83,653,863).
    func describedParameters(file: String) throws -> Int {
        var t = ParameterTally(file: file)
        let ch = blockOutChannels, n = ch.count, rev = Array(ch.reversed()), l = latentChannels
        func mid(_ c: Int) throws {
            try t.resnet(c, c, temb: nil)
            try t.resnet(c, c, temb: nil)
            if midBlockAddAttention { try t.norm(c); for _ in 0..<4 { try t.linear(c, c) } }
        }
        try t.conv(inChannels, ch[0], kernel: 3)
        for i in 0..<n {
            for j in 0..<layersPerBlock { try t.resnet(j == 0 ? ch[max(i - 1, 0)] : ch[i], ch[i], temb: nil) }
            if i < n - 1 { try t.conv(ch[i], ch[i], kernel: 3) }
        }
        try mid(ch[n - 1])
        try t.norm(ch[n - 1])
        try t.conv(ch[n - 1], 2 * l, kernel: 3)
        try t.conv(l, rev[0], kernel: 3)
        try mid(rev[0])
        for i in 0..<n {
            for j in 0...layersPerBlock { try t.resnet(j == 0 ? rev[max(i - 1, 0)] : rev[i], rev[i], temb: nil) }
            if i < n - 1 { try t.conv(rev[i], rev[i], kernel: 3) }
        }
        try t.norm(rev[n - 1])
        try t.conv(rev[n - 1], outChannels, kernel: 3)
        if useQuantConv { try t.conv(2 * l, 2 * l, kernel: 1) }
        if usePostQuantConv { try t.conv(l, l, kernel: 1) }
        return t.total
    }
}

extension CLIPTextConfig {
    /// The parameters of the `CLIPTextModel` this config describes (SD 1.x's CLIP ViT-L/14: 123,060,480).
    func describedParameters(file: String) throws -> Int {
        var t = ParameterTally(file: file), layer = ParameterTally(file: file)
        let d = hiddenSize
        try layer.norm(d)
        try layer.norm(d)
        for _ in 0..<4 { try layer.linear(d, d) }
        try layer.linear(d, intermediateSize)
        try layer.linear(intermediateSize, d)
        try t.add(vocabSize, d)
        try t.add(maxPositionEmbeddings, d)
        try t.add(layer, times: numHiddenLayers)
        try t.norm(d)
        return t.total
    }
}

extension UNetConfig {
    /// The parameters of the UNet this config describes (SD 1.5: 859,520,964), after `validate(file:)`.
    public func parameterCount(file: String = "unet config") throws -> Int {
        try validate(file: file)
        return try describedParameters(file: file)
    }
}

extension VAEConfig {
    /// The parameters of the VAE this config describes, encoder and decoder (SD 1.x: 83,653,863), after
    /// `validate(file:)`.
    public func parameterCount(file: String = "vae config") throws -> Int {
        try validate(file: file)
        return try describedParameters(file: file)
    }
}

extension CLIPTextConfig {
    /// The parameters of the text encoder this config describes (SD 1.x's CLIP ViT-L/14: 123,060,480), after
    /// `validate(file:)`.
    public func parameterCount(file: String = "text encoder config") throws -> Int {
        try validate(file: file)
        return try describedParameters(file: file)
    }
}
