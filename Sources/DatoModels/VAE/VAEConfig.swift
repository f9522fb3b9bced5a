/// diffusers `AutoencoderKL`'s config.json.
public struct VAEConfig: Codable, Sendable, Equatable {
    public var inChannels = 3
    public var outChannels = 3
    public var downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: 4)
    public var upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: 4)
    public var blockOutChannels = [128, 256, 512, 512]

    /// Pixels per latent cell along each side: 2^(levels - 1), as diffusers' `vae_scale_factor` (8 for SD).
    public var scaleFactor: Int { 1 << max(0, blockOutChannels.count - 1) }
    public var layersPerBlock = 2
    public var actFn = "silu"
    public var latentChannels = 4
    public var normNumGroups = 32
    public var scalingFactor: Float = 0.18215
    public var shiftFactor: Float? = nil
    public var useQuantConv = true
    public var usePostQuantConv = true
    public var midBlockAddAttention = true
    /// The image side the VAE was trained at (`sample_size`); tiled decoding uses tiles of this size.
    public var sampleSize = 32

    public init() {}

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", downBlockTypes = "down_block_types"
        case upBlockTypes = "up_block_types", blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block"
        case actFn = "act_fn", latentChannels = "latent_channels", normNumGroups = "norm_num_groups"
        case scalingFactor = "scaling_factor", shiftFactor = "shift_factor", useQuantConv = "use_quant_conv"
        case usePostQuantConv = "use_post_quant_conv", midBlockAddAttention = "mid_block_add_attention"
        case sampleSize = "sample_size"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func v<T: Decodable>(_ k: CodingKeys, _ d: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? d }
        let d = VAEConfig()
        inChannels = try v(.inChannels, d.inChannels)
        outChannels = try v(.outChannels, d.outChannels)
        downBlockTypes = try v(.downBlockTypes, d.downBlockTypes)
        upBlockTypes = try v(.upBlockTypes, d.upBlockTypes)
        blockOutChannels = try v(.blockOutChannels, d.blockOutChannels)
        layersPerBlock = try v(.layersPerBlock, d.layersPerBlock)
        actFn = try v(.actFn, d.actFn)
        latentChannels = try v(.latentChannels, d.latentChannels)
        normNumGroups = try v(.normNumGroups, d.normNumGroups)
        scalingFactor = try v(.scalingFactor, d.scalingFactor)
        shiftFactor = try c.decodeIfPresent(Float.self, forKey: .shiftFactor)
        useQuantConv = try v(.useQuantConv, d.useQuantConv)
        usePostQuantConv = try v(.usePostQuantConv, d.usePostQuantConv)
        midBlockAddAttention = try v(.midBlockAddAttention, d.midBlockAddAttention)
        // An integer, or [height, width] whose first entry diffusers uses (an empty list reads as 0, refused).
        if c.contains(.sampleSize), try !c.decodeNil(forKey: .sampleSize) {
            if let side = try? c.decode(Int.self, forKey: .sampleSize) {
                sampleSize = side
            } else {
                sampleSize = try c.decode([Int].self, forKey: .sampleSize).first ?? 0
            }
        }
    }

    /// Loads `config.json`.
    public static func load(_ path: String) throws -> VAEConfig {
        let c = try ConfigFile.load(VAEConfig.self, from: path)
        try c.validate(file: path)
        return c
    }

    /// Rejects configurations this engine does not implement or whose values are out of `ModelBounds`, naming
    /// the field; the parameter count it describes is bounded too. Nothing is allocated before this passes.
    public func validate(file: String = "vae config") throws {
        let check = ConfigChecker(file: file)
        let n = blockOutChannels.count
        try check.checkLevels(blockOutChannels: blockOutChannels, inChannels: inChannels, outChannels: outChannels,
                              normNumGroups: normNumGroups, layersPerBlock: layersPerBlock)
        try check.check("latent_channels", latentChannels, in: ModelBounds.channels)
        try check.check("sample_size", sampleSize, in: ModelBounds.sampleSize)
        // Latents are divided by the scaling factor before decoding (and shifted by the shift factor).
        guard scalingFactor.isFinite, scalingFactor >= 1e-6, scalingFactor <= 1e6 else {
            throw check.error("scaling_factor", "\(scalingFactor) is outside 1e-6...1e6 (SD 1.x: 0.18215)")
        }
        if let shiftFactor, !shiftFactor.isFinite || abs(shiftFactor) > 1e6 {
            throw check.error("shift_factor", "\(shiftFactor) is not a finite number of magnitude at most 1e6")
        }
        guard downBlockTypes.count == n, downBlockTypes.allSatisfy({ $0 == "DownEncoderBlock2D" }) else {
            throw check.error("down_block_types", "expected \(n) x DownEncoderBlock2D")
        }
        guard upBlockTypes.count == n, upBlockTypes.allSatisfy({ $0 == "UpDecoderBlock2D" }) else {
            throw check.error("up_block_types", "expected \(n) x UpDecoderBlock2D")
        }
        guard actFn == "silu" else { throw check.error("act_fn", "only silu is supported") }
        guard sampleSize >= scaleFactor else { throw check.error("sample_size", "\(sampleSize) is smaller than the VAE factor \(scaleFactor)") }
        try check.check(parameters: try describedParameters(file: file), of: "VAE")
    }
}
