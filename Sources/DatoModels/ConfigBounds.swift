/// The sane model bounds every config value is checked against when it is decoded, before anything is
/// allocated. Each bound is far above what real SD 1.x, 2.x and XL models use (noted per bound), so a legal
/// model is never refused, while a hand-edited or hostile config cannot ask for absurd sizes.
public enum ModelBounds {
    /// Any channel count: in/out/latent channels, block widths, cross-attention and text widths
    /// (SD 1.x: at most 1280; SDXL: 2048 cross-attention).
    public static let channels = 1...16_384
    /// GroupNorm groups (SD: 32).
    public static let normGroups = 1...1_024
    /// Resnets per UNet/VAE block (SD: 2).
    public static let layersPerBlock = 1...16
    /// Resolution levels of a UNet or VAE (SD: 4).
    public static let levels = 1...8
    /// Transformer blocks per attention module (SDXL: up to 10).
    public static let transformerLayers = 1...64
    /// Attention heads of one module (SD 1.x: 8; SD 2.x: up to 20).
    public static let heads = 1...1_024
    /// Text encoder layers (OpenCLIP bigG: 32).
    public static let textLayers = 1...256
    /// Text encoder vocabulary (CLIP: 49408).
    public static let vocabulary = 1...1_000_000
    /// Text encoder positions (CLIP: 77; long-context CLIP variants: a few hundred).
    public static let positions = 1...4_096
    /// Text encoder MLP width (OpenCLIP bigG: 5120).
    public static let intermediateSize = 1...65_536
    /// `sample_size` of a UNet (latent side; SDXL: 128) or VAE (image side; SDXL: 1024).
    public static let sampleSize = 1...16_384
    /// Normalisation epsilons (SD: 1e-5 and 1e-6): positive, and not so large that they swamp the variance.
    public static let epsilon: ClosedRange<Float> = Float.leastNormalMagnitude...1
    /// Parameters of one network (SD 1.x UNet: 0.86 billion; SDXL UNet: 2.6 billion).
    public static let maxParameters = 10_000_000_000
}

/// Range checks of config fields that throw `ModelError.config` naming the file and the field.
struct ConfigChecker {
    let file: String

    func error(_ field: String, _ message: String) -> ModelError {
        .config(file: file, field: field, message: message)
    }

    /// The sizes a UNet and a VAE config share, within `ModelBounds`: the number of levels and each level's width,
    /// the input and output channels, the norm groups (which must divide every width) and the layers per level.
    func checkLevels(blockOutChannels: [Int], inChannels: Int, outChannels: Int, normNumGroups: Int,
                     layersPerBlock: Int) throws {
        try check("block_out_channels", blockOutChannels.count, in: ModelBounds.levels)
        try check("block_out_channels", blockOutChannels, in: ModelBounds.channels)
        try check("in_channels", inChannels, in: ModelBounds.channels)
        try check("out_channels", outChannels, in: ModelBounds.channels)
        try check("norm_num_groups", normNumGroups, in: ModelBounds.normGroups)
        try check("layers_per_block", layersPerBlock, in: ModelBounds.layersPerBlock)
        for ch in blockOutChannels where ch % normNumGroups != 0 {
            throw error("block_out_channels", "\(ch) is not divisible by norm_num_groups \(normNumGroups)")
        }
    }

    /// `value` must lie in `range`.
    func check(_ field: String, _ value: Int, in range: ClosedRange<Int>) throws {
        guard range.contains(value) else { throw error(field, "\(value) is outside \(range.lowerBound)...\(range.upperBound)") }
    }

    /// Every entry of `values` must lie in `range`.
    func check(_ field: String, _ values: [Int], in range: ClosedRange<Int>) throws {
        for (i, v) in values.enumerated() where !range.contains(v) {
            throw error("\(field)[\(i)]", "\(v) is outside \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// `value` must be finite and lie in `range` (NaN never does).
    func check(_ field: String, _ value: Float, in range: ClosedRange<Float>) throws {
        guard value.isFinite, range.contains(value) else {
            let lower = range.lowerBound == .leastNormalMagnitude ? "above 0" : "at least \(range.lowerBound)"
            throw error(field, "\(value) must be \(lower) and at most \(range.upperBound)")
        }
    }

    /// The count of levels and, when a list, of per-level values.
    func check(_ field: String, _ value: IntOrList, levels: Int, in range: ClosedRange<Int>) throws {
        switch value {
        case .one(let v): try check(field, v, in: range)
        case .list(let v):
            guard v.count == levels else { throw error(field, "has \(v.count) entries for \(levels) levels") }
            try check(field, v, in: range)
        }
    }

    /// A network's parameter count must stay within `ModelBounds.maxParameters`.
    func check(parameters: Int, of network: String) throws {
        guard parameters <= ModelBounds.maxParameters else {
            throw error("(root)", "describes a \(network) of \(parameters) parameters, more than the \(ModelBounds.maxParameters) this engine accepts")
        }
    }
}

/// A parameter count accumulated with checked arithmetic (sizes come from config files).
struct ParameterTally {
    private(set) var total = 0
    let file: String

    init(file: String) { self.file = file }

    /// Adds the product of `factors`.
    mutating func add(_ factors: Int...) throws {
        var product = 1
        for f in factors {
            let (p, overflow) = product.multipliedReportingOverflow(by: f)
            guard !overflow, f >= 0 else { throw overflowError }
            product = p
        }
        let (sum, overflow) = total.addingReportingOverflow(product)
        guard !overflow else { throw overflowError }
        total = sum
    }

    /// Adds `times` copies of `other`'s total.
    mutating func add(_ other: ParameterTally, times: Int = 1) throws {
        try add(other.total, times)
    }

    private var overflowError: ModelError {
        .config(file: file, field: "(root)", message: "the parameter count overflows")
    }

    /// A conv2d with a `kernel` x `kernel` filter and a bias.
    mutating func conv(_ cin: Int, _ cout: Int, kernel: Int) throws { try add(cout, cin, kernel, kernel); try add(cout) }
    /// A linear layer, with or without a bias.
    mutating func linear(_ cin: Int, _ cout: Int, bias: Bool = true) throws { try add(cout, cin); if bias { try add(cout) } }
    /// A norm layer's scale and shift.
    mutating func norm(_ channels: Int) throws { try add(2, channels) }
}
