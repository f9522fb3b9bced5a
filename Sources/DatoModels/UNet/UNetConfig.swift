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
    /// diffusers' misnamed head count (see unet-layout.md): used when `numAttentionHeads` is absent.
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
    }

    /// Heads per down block (diffusers: `num_attention_heads or attention_head_dim`).
    public var headsPerBlock: [Int] { (numAttentionHeads ?? attentionHeadDim).perBlock(blockOutChannels.count) }

    /// Loads `config.json`.
    public static func load(_ path: String) throws -> UNetConfig {
        let c = try ConfigFile.load(UNetConfig.self, from: path)
        try c.validate(file: path)
        return c
    }

    /// Rejects configurations this engine does not implement, naming the field.
    public func validate(file: String = "unet config") throws {
        func bad(_ f: String, _ m: String) -> ModelError { .config(file: file, field: f, message: m) }
        let n = blockOutChannels.count
        guard n >= 1 else { throw bad("block_out_channels", "must not be empty") }
        guard downBlockTypes.count == n else { throw bad("down_block_types", "has \(downBlockTypes.count) entries for \(n) levels") }
        guard upBlockTypes.count == n else { throw bad("up_block_types", "has \(upBlockTypes.count) entries for \(n) levels") }
        for t in downBlockTypes where !["CrossAttnDownBlock2D", "DownBlock2D"].contains(t) {
            throw bad("down_block_types", "unsupported block type '\(t)'")
        }
        for t in upBlockTypes where !["CrossAttnUpBlock2D", "UpBlock2D"].contains(t) {
            throw bad("up_block_types", "unsupported block type '\(t)'")
        }
        guard midBlockType == "UNetMidBlock2DCrossAttn" else { throw bad("mid_block_type", "only UNetMidBlock2DCrossAttn is supported") }
        guard headsPerBlock.count == n else { throw bad("attention_head_dim", "needs one value per level") }
        guard transformerLayersPerBlock.perBlock(n).count == n else { throw bad("transformer_layers_per_block", "needs one value per level") }
        for (i, ch) in blockOutChannels.enumerated() {
            guard ch > 0, ch % normNumGroups == 0 else { throw bad("block_out_channels", "\(ch) is not divisible by norm_num_groups \(normNumGroups)") }
            guard ch % headsPerBlock[i] == 0 else { throw bad("attention_head_dim", "\(ch) channels do not split into \(headsPerBlock[i]) heads") }
        }
        guard actFn == "silu" else { throw bad("act_fn", "only silu is supported") }
        guard !onlyCrossAttention else { throw bad("only_cross_attention", "is not supported") }
        guard resnetTimeScaleShift == "default" else { throw bad("resnet_time_scale_shift", "only 'default' is supported") }
        guard timeEmbeddingType == "positional" else { throw bad("time_embedding_type", "only 'positional' is supported") }
        guard !centerInputSample else { throw bad("center_input_sample", "is not supported") }
        guard downsamplePadding == 1 else { throw bad("downsample_padding", "only 1 is supported") }
        guard midBlockScaleFactor == 1 else { throw bad("mid_block_scale_factor", "only 1 is supported") }
        guard blockOutChannels[0] % 2 == 0 else { throw bad("block_out_channels", "the first width must be even (timestep embedding)") }
    }
}
