import Foundation

/// `UNet2DConditionModel`'s config.json (the fields SD 1.x uses), with diffusers' names and defaults.
public struct UNetConfig: Codable, Sendable, Equatable {
    public var inChannels = 4
    public var outChannels = 4
    public var blockOutChannels = [320, 640, 1280, 1280]
    public var layersPerBlock = 2
    public var downBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
    public var upBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
    public var midBlockType: String? = "UNetMidBlock2DCrossAttn"
    /// diffusers' misnamed head count (see docs/methods/unet-layout.md): used when `numAttentionHeads` is absent.
    public var attentionHeadDim: IntOrList = .one(8)
    public var numAttentionHeads: IntOrList? = nil
    public var crossAttentionDim = 768
    public var normNumGroups = 32
    public var normEps: Float = 1e-5
    public var flipSinToCos = true
    public var freqShift = 0
    public var useLinearProjection = false
    public var actFn = "silu"
    public var transformerLayersPerBlock: IntOrList = .one(1)
    public var onlyCrossAttention = false
    public var resnetTimeScaleShift = "default"
    public var timeEmbeddingType = "positional"
    public var centerInputSample = false
    public var downsamplePadding = 1
    public var midBlockScaleFactor: Float = 1
    public var upcastAttention = false
    public var sampleSize: Int? = 64
    /// Architecture options the file set away from diffusers' defaults, which this engine does not implement
    /// (`UNetUnsupportedOptions`); `validate` refuses the first.
    var unsupportedOptions: [String] = []

    public init() {}

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", downBlockTypes = "down_block_types", upBlockTypes = "up_block_types"
        case midBlockType = "mid_block_type", attentionHeadDim = "attention_head_dim"
        case numAttentionHeads = "num_attention_heads", crossAttentionDim = "cross_attention_dim"
        case normNumGroups = "norm_num_groups", normEps = "norm_eps", flipSinToCos = "flip_sin_to_cos"
        case freqShift = "freq_shift", useLinearProjection = "use_linear_projection", actFn = "act_fn"
        case transformerLayersPerBlock = "transformer_layers_per_block", onlyCrossAttention = "only_cross_attention"
        case resnetTimeScaleShift = "resnet_time_scale_shift", timeEmbeddingType = "time_embedding_type"
        case centerInputSample = "center_input_sample", downsamplePadding = "downsample_padding"
        case midBlockScaleFactor = "mid_block_scale_factor", upcastAttention = "upcast_attention"
        case sampleSize = "sample_size"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func v<T: Decodable>(_ k: CodingKeys, _ d: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? d }
        let d = UNetConfig()
        inChannels = try v(.inChannels, d.inChannels)
        outChannels = try v(.outChannels, d.outChannels)
        blockOutChannels = try v(.blockOutChannels, d.blockOutChannels)
        layersPerBlock = try v(.layersPerBlock, d.layersPerBlock)
        downBlockTypes = try v(.downBlockTypes, d.downBlockTypes)
        upBlockTypes = try v(.upBlockTypes, d.upBlockTypes)
        midBlockType = try c.decodeIfPresent(String.self, forKey: .midBlockType) ?? d.midBlockType
        attentionHeadDim = try v(.attentionHeadDim, d.attentionHeadDim)
        numAttentionHeads = try c.decodeIfPresent(IntOrList.self, forKey: .numAttentionHeads)
        crossAttentionDim = try v(.crossAttentionDim, d.crossAttentionDim)
        normNumGroups = try v(.normNumGroups, d.normNumGroups)
        normEps = try v(.normEps, d.normEps)
        flipSinToCos = try v(.flipSinToCos, d.flipSinToCos)
        freqShift = try v(.freqShift, d.freqShift)
        useLinearProjection = try v(.useLinearProjection, d.useLinearProjection)
        actFn = try v(.actFn, d.actFn)
        transformerLayersPerBlock = try v(.transformerLayersPerBlock, d.transformerLayersPerBlock)
        onlyCrossAttention = try v(.onlyCrossAttention, d.onlyCrossAttention)
        resnetTimeScaleShift = try v(.resnetTimeScaleShift, d.resnetTimeScaleShift)
        timeEmbeddingType = try v(.timeEmbeddingType, d.timeEmbeddingType)
        centerInputSample = try v(.centerInputSample, d.centerInputSample)
        downsamplePadding = try v(.downsamplePadding, d.downsamplePadding)
        midBlockScaleFactor = try v(.midBlockScaleFactor, d.midBlockScaleFactor)
        upcastAttention = try v(.upcastAttention, d.upcastAttention)
        sampleSize = try c.decodeIfPresent(Int.self, forKey: .sampleSize)
        unsupportedOptions = try UNetUnsupportedOptions.found(in: decoder)
    }

    /// Heads per down block (diffusers: `num_attention_heads or attention_head_dim`).
    public var headsPerBlock: [Int] { (numAttentionHeads ?? attentionHeadDim).perBlock(blockOutChannels.count) }

    /// Loads `config.json`.
    public static func load(_ path: String) throws -> UNetConfig {
        let c = try ConfigFile.load(UNetConfig.self, from: path)
        try c.validate(file: path)
        return c
    }

    /// Rejects configurations this engine does not implement or whose values are out of `ModelBounds`, naming
    /// the field; the parameter count it describes is bounded too. Nothing is allocated before this passes.
    public func validate(file: String = "unet config") throws {
        let check = ConfigChecker(file: file)
        try validateSizes(check)
        try validateBlocks(check)
        try validateOptions(check)
        try check.check(parameters: try describedParameters(file: file), of: "UNet")
    }

    /// Channel counts, layer counts, heads and epsilon within `ModelBounds`, and channel counts that split into
    /// the norm groups and the heads.
    private func validateSizes(_ check: ConfigChecker) throws {
        let n = blockOutChannels.count
        try check.checkLevels(blockOutChannels: blockOutChannels, inChannels: inChannels, outChannels: outChannels,
                              normNumGroups: normNumGroups, layersPerBlock: layersPerBlock)
        try check.check("cross_attention_dim", crossAttentionDim, in: ModelBounds.channels)
        try check.check("norm_eps", normEps, in: ModelBounds.epsilon)
        try check.check("transformer_layers_per_block", transformerLayersPerBlock, levels: n, in: ModelBounds.transformerLayers)
        // diffusers: `num_attention_heads or attention_head_dim` gives the heads; only the one used is checked.
        let headsField = numAttentionHeads == nil ? "attention_head_dim" : "num_attention_heads"
        try check.check(headsField, numAttentionHeads ?? attentionHeadDim, levels: n, in: ModelBounds.heads)
        if let sampleSize { try check.check("sample_size", sampleSize, in: ModelBounds.sampleSize) }
        try check.check("freq_shift", freqShift, in: 0...1)
        let heads = headsPerBlock
        for (ch, h) in zip(blockOutChannels, heads) where ch % h != 0 {
            throw check.error(headsField, "\(ch) channels do not split into \(h) heads")
        }
        guard blockOutChannels[0] % 2 == 0, blockOutChannels[0] / 2 > freqShift else {
            throw check.error("block_out_channels", "the first width must be even and at least 4 (timestep embedding)")
        }
    }

    /// The block types this engine implements, one per level.
    private func validateBlocks(_ check: ConfigChecker) throws {
        let n = blockOutChannels.count
        guard downBlockTypes.count == n else { throw check.error("down_block_types", "has \(downBlockTypes.count) entries for \(n) levels") }
        guard upBlockTypes.count == n else { throw check.error("up_block_types", "has \(upBlockTypes.count) entries for \(n) levels") }
        for t in downBlockTypes where !["CrossAttnDownBlock2D", "DownBlock2D"].contains(t) {
            throw check.error("down_block_types", "unsupported block type '\(t)'")
        }
        for t in upBlockTypes where !["CrossAttnUpBlock2D", "UpBlock2D"].contains(t) {
            throw check.error("up_block_types", "unsupported block type '\(t)'")
        }
        guard midBlockType == "UNetMidBlock2DCrossAttn" else { throw check.error("mid_block_type", "only UNetMidBlock2DCrossAttn is supported") }
    }

    /// Options this engine implements only in SD 1.x's setting.
    private func validateOptions(_ check: ConfigChecker) throws {
        func bad(_ f: String, _ m: String) -> ModelError { check.error(f, m) }
        guard actFn == "silu" else { throw bad("act_fn", "only silu is supported") }
        guard !onlyCrossAttention else { throw bad("only_cross_attention", "is not supported") }
        guard resnetTimeScaleShift == "default" else { throw bad("resnet_time_scale_shift", "only 'default' is supported") }
        guard timeEmbeddingType == "positional" else { throw bad("time_embedding_type", "only 'positional' is supported") }
        guard !centerInputSample else { throw bad("center_input_sample", "is not supported") }
        guard downsamplePadding == 1 else { throw bad("downsample_padding", "only 1 is supported") }
        guard midBlockScaleFactor == 1 else { throw bad("mid_block_scale_factor", "only 1 is supported") }
        if let option = unsupportedOptions.first {
            throw bad(option, "is not supported: this engine implements SD 1.x/2.x UNets, which leave it at diffusers' default")
        }
    }
}
