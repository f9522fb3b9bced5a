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
        // An integer, or [height, width] whose first entry diffusers uses.
        if let side = try? c.decodeIfPresent(Int.self, forKey: .sampleSize) {
            sampleSize = side
        } else if let sides = try? c.decodeIfPresent([Int].self, forKey: .sampleSize), let first = sides.first {
            sampleSize = first
        }
    }

    /// Loads `config.json`.
    public static func load(_ path: String) throws -> VAEConfig {
        let c = try ConfigFile.load(VAEConfig.self, from: path)
        try c.validate(file: path)
        return c
    }

    public func validate(file: String = "vae config") throws {
        func bad(_ f: String, _ m: String) -> ModelError { .config(file: file, field: f, message: m) }
        let n = blockOutChannels.count
        guard n >= 1 else { throw bad("block_out_channels", "must not be empty") }
        guard downBlockTypes.count == n, downBlockTypes.allSatisfy({ $0 == "DownEncoderBlock2D" }) else {
            throw bad("down_block_types", "expected \(n) x DownEncoderBlock2D")
        }
        guard upBlockTypes.count == n, upBlockTypes.allSatisfy({ $0 == "UpDecoderBlock2D" }) else {
            throw bad("up_block_types", "expected \(n) x UpDecoderBlock2D")
        }
        for ch in blockOutChannels where ch <= 0 || ch % normNumGroups != 0 {
            throw bad("block_out_channels", "\(ch) is not divisible by norm_num_groups \(normNumGroups)")
        }
        guard actFn == "silu" else { throw bad("act_fn", "only silu is supported") }
        guard sampleSize >= scaleFactor else { throw bad("sample_size", "\(sampleSize) is smaller than the VAE factor \(scaleFactor)") }
    }
}
