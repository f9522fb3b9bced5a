import DatoCore
import Foundation

/// The three networks of an SD 1.x or SD 2.x model.
public struct StableDiffusionModels {
    /// The text encoder; reading it throws after `releaseTextEncoder()`.
    public var textEncoder: CLIPTextModel {
        get throws {
            guard let loadedTextEncoder else {
                throw ModelError.input("the text encoder was released after encoding (release-text-encoder); load the model again to encode new prompts")
            }
            return loadedTextEncoder
        }
    }
    private var loadedTextEncoder: CLIPTextModel?
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL
    /// Things worth telling the user about the weights (e.g. unknown tensors that were skipped).
    public private(set) var warnings: [String] = []
    /// For a model loaded from a single file: its family, text encoder layout and prediction type.
    public private(set) var singleFile: SingleFileDescription?
    /// Things a user may like to know about the weights (e.g. which variant was loaded when none was asked).
    public private(set) var notes: [String] = []

    /// Configs of the three networks (SD 1.5's by default).
    public struct Configs: Sendable {
        public var unet = UNetConfig()
        public var vae = VAEConfig()
        public var textEncoder = CLIPTextConfig()
        public init() {}

        /// Reads `unet/`, `vae/` and `text_encoder/` config.json files from a diffusers folder, after refusing
        /// folders of architectures the engine does not run (`UnsupportedArchitecture`).
        public init(diffusersFolder dir: String) throws {
            try UnsupportedArchitecture.check(folder: dir)
            unet = try UNetConfig.load("\(dir)/unet/config.json")
            vae = try VAEConfig.load("\(dir)/vae/config.json")
            textEncoder = try CLIPTextConfig.load("\(dir)/text_encoder/config.json")
        }
    }

    public init(textEncoder: CLIPTextModel, unet: UNet2DConditionModel, vae: AutoencoderKL) {
        loadedTextEncoder = textEncoder; self.unet = unet; self.vae = vae
    }

    /// Frees the text encoder's weights (about 0.5 GB for SD 1.x) once the prompts are encoded.
    public mutating func releaseTextEncoder() { loadedTextEncoder = nil }

    /// Loads a diffusers folder (`model_index.json`, `unet/`, `vae/`, `text_encoder/`, ...). Each component's
    /// weights may be safetensors or `.bin`, single or sharded (`ComponentWeights`); `variant` (diffusers'
    /// `variant=`, e.g. "fp16") picks the variant files where a component has them, and it is an error when no
    /// component has them (as in diffusers). Choices worth knowing are in `notes` and `warnings`. The UNet computes
    /// as `compute` says, the VAE in `compute.vaePrecision` (fp32 unless asked for), the text encoder in fp32.
    public init(diffusersFolder dir: String, variant: String? = nil, compute: ComputeSettings = ComputeSettings()) throws {
        guard FileManager.default.fileExists(atPath: "\(dir)/model_index.json") else {
            throw ModelError.layout(path: dir, message: "not a diffusers folder (no model_index.json)")
        }
        let configs = try Configs(diffusersFolder: dir)
        try configs.validateTogether(folder: dir)
        let weights = try Self.componentWeights(dir, variant: variant)
        loadedTextEncoder = try Self.loadTextEncoder(config: configs.textEncoder, weights: weights.textEncoder,
                                                     compute: compute.with(precision: .fp32))
        unet = try Self.loadUNet(config: configs.unet, weights: weights.unet, compute: compute)
        vae = try Self.loadVAE(config: configs.vae, weights: weights.vae, compute: compute.forVAE)
        let all = [weights.textEncoder, weights.unet, weights.vae]
        notes = all.compactMap(\.note)
        warnings = all.compactMap(\.warning)
    }

    /// The weights of the three components; with a variant asked, at least one must have it (checked first,
    /// as diffusers does).
    static func componentWeights(_ dir: String, variant: String?) throws
        -> (unet: ComponentWeights, vae: ComponentWeights, textEncoder: ComponentWeights) {
        let parts: [(String, WeightsNaming)] = [("unet", .diffusers), ("vae", .diffusers), ("text_encoder", .transformers)]
        if let variant {
            try ComponentWeights.checkVariantName(variant)
            guard parts.contains(where: { ComponentWeights.has(variant: variant, in: "\(dir)/\($0.0)", naming: $0.1) }) else {
                let looked = parts.map { "\($0.0)/\(WeightsNaming.adding(variant, to: $0.1.safetensors))" }.joined(separator: ", ")
                throw ModelError.layout(path: dir, message: "no component has weights of the variant '\(variant)' (looked for \(looked) and their .bin and sharded forms); leave out --variant to load the plain weights")
            }
        }
        let found = try parts.map { try ComponentWeights.find(in: "\(dir)/\($0.0)", naming: $0.1, variant: variant) }
        return (found[0], found[1], found[2])
    }

    /// Loads an original single-file SD 1.x or SD 2.x checkpoint (`.safetensors`, or a PyTorch `.ckpt` read by
    /// a restricted unpickler that never executes code). Architectures the engine does not run (SD-XL, SD 3,
    /// inpainting, ...) are refused first (`UnsupportedArchitecture`). `configs` nil infers the architecture
    /// from the tensor shapes (`ArchitectureInference`), with the native size that fits `prediction` (the
    /// `--prediction-type` flag; nil: diffusers' rule, recorded in `singleFile`); `useEMA` loads the UNet from
    /// its EMA copy when the file has one. The text encoder is CLIP's (SD 1.x) or OpenCLIP's (SD 2.x, q/k/v
    /// read as row blocks of its stacked projection). Schedule buffers, position ids and unused EMA tensors
    /// are skipped; unknown tensors are listed in `warnings`; missing or mis-shaped required tensors are an error.
    /// The UNet computes as `compute` says, the VAE in `compute.vaePrecision`, the text encoder in fp32.
    public init(singleFile path: String, configs given: Configs? = nil, useEMA: Bool = false,
                prediction: PredictionType? = nil, compute: ComputeSettings = ComputeSettings()) throws {
        let file = try openCheckpoint(path)
        try UnsupportedArchitecture.check(singleFile: file.shapes, path: path)
        let layout = SingleFileLayout(names: file.shapes.keys)
        guard !layout.unet.isEmpty || !layout.vae.isEmpty || !layout.textEncoder.isEmpty else {
            throw ModelError.layout(path: path, message: "not an SD 1.x/2.x single-file checkpoint (no model.diffusion_model.*, first_stage_model.*, cond_stage_model.transformer.* or cond_stage_model.model.* tensors)")
        }
        let description = SingleFileDescription(file, prediction: prediction)
        let configs = try given ?? ArchitectureInference.checkedConfigs(shapes: file.shapes, source: path,
                                                                         prediction: description.prediction.type)
        try configs.validateTogether()
        let levels = configs.vae.blockOutChannels.count, l = configs.unet.layersPerBlock
        var warnings: [String] = []
        if !layout.unknown.isEmpty {
            let shown = layout.unknown.sorted().prefix(10).joined(separator: ", ")
            warnings.append("\(path): ignoring \(layout.unknown.count) unknown tensor(s): \(shown)\(layout.unknown.count > 10 ? ", ..." : "")")
        }
        let emaNames = Set(layout.ema)
        if useEMA && emaNames.isEmpty { warnings.append("\(path): no EMA weights in the file; using the regular UNet weights") }
        var problems: [String] = []
        for key in layout.unet where LDMKeyMap.unet(String(key.dropFirst(LDMKeyMap.unetPrefix.count)), layersPerBlock: l) == nil {
            problems.append("unknown UNet key '\(key)'")
        }
        for key in layout.vae where LDMKeyMap.vae(String(key.dropFirst(LDMKeyMap.vaePrefix.count)), levels: levels) == nil {
            problems.append("unknown VAE key '\(key)'")
        }
        if !problems.isEmpty { throw ModelError.weights(source: path, problems: problems.sorted()) }
        // The UNet source maps diffusers names back to the file's (EMA or regular) names.
        var unetNames: [String: String] = [:]
        for key in layout.unet {
            guard let mapped = LDMKeyMap.unet(String(key.dropFirst(LDMKeyMap.unetPrefix.count)), layersPerBlock: l) else { continue }
            let ema = SingleFileLayout.emaName(ofUNetKey: key)
            unetNames[key] = mapped
            if useEMA && emaNames.contains(ema) { unetNames[ema] = mapped; unetNames[key] = nil }
        }
        let unetSource = RenamedSource(file, rename: { unetNames[$0] })
        let vaeSource = RenamedSource(file, rename: {
            $0.hasPrefix(LDMKeyMap.vaePrefix) ? LDMKeyMap.vae(String($0.dropFirst(LDMKeyMap.vaePrefix.count)), levels: levels) : nil
        })
        let textSource: TensorSource = description.textLayout == .openCLIP
            ? try SlicedSource.openCLIP(file, config: configs.textEncoder)
            : RenamedSource(file, rename: {
                $0.hasPrefix(LDMKeyMap.textPrefix) ? LDMKeyMap.textEncoder(String($0.dropFirst(LDMKeyMap.textPrefix.count))) : nil
            })
        singleFile = description
        let fp32 = compute.with(precision: .fp32)
        loadedTextEncoder = try Self.build(textSource, compute: fp32, ignoring: LDMKeyMap.isTextEncoderBuffer) {
            try CLIPTextModel(config: configs.textEncoder, params: $0)
        }
        unet = try Self.build(unetSource, compute: compute) { try UNet2DConditionModel(config: configs.unet, params: $0) }
        vae = try Self.build(vaeSource, compute: compute.forVAE) { try AutoencoderKL(config: configs.vae, params: $0) }
        self.warnings = warnings
    }

    /// Builds a model whose layers compute as `compute` says from a source, and checks that every tensor was
    /// used and matched.
    static func build<M>(_ source: TensorSource, compute: ComputeSettings, ignoring: @escaping (String) -> Bool = { _ in false },
                         _ make: (Scope) throws -> M) throws -> M {
        let params = Parameters(source)
        params.ignorable = ignoring
        let model = try make(params.scope("", compute: compute))
        try params.finish()
        return model
    }

    /// Loads `unet/` of a diffusers folder (its plain weights, else `variant`'s, else fp16's; see `ComponentWeights`).
    public static func loadUNet(config: UNetConfig, folder: String, variant: String? = nil,
                                compute: ComputeSettings = ComputeSettings()) throws -> UNet2DConditionModel {
        try loadUNet(config: config, weights: try ComponentWeights.find(in: folder, naming: .diffusers, variant: variant),
                     compute: compute)
    }

    /// Loads a UNet from chosen weights, its layers computing as `compute` says.
    public static func loadUNet(config: UNetConfig, weights: ComponentWeights,
                                compute: ComputeSettings = ComputeSettings()) throws -> UNet2DConditionModel {
        let source = RenamedSource(try weights.open())
        return try build(source, compute: compute) { try UNet2DConditionModel(config: config, params: $0) }
    }

    /// Loads a VAE from chosen weights, its layers computing as `compute` says.
    public static func loadVAE(config: VAEConfig, weights: ComponentWeights,
                               compute: ComputeSettings = ComputeSettings()) throws -> AutoencoderKL {
        let source = RenamedSource(try weights.open())
        return try build(source, compute: compute) { try AutoencoderKL(config: config, params: $0) }
    }

    /// Loads a text encoder from chosen weights, its layers computing as `compute` says.
    public static func loadTextEncoder(config: CLIPTextConfig, weights: ComponentWeights,
                                       compute: ComputeSettings = ComputeSettings()) throws -> CLIPTextModel {
        let source = RenamedSource(try weights.open(), rename: LDMKeyMap.textEncoder)
        return try build(source, compute: compute, ignoring: LDMKeyMap.isTextEncoderBuffer) {
            try CLIPTextModel(config: config, params: $0)
        }
    }
}
