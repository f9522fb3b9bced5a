import DatoCore
import Foundation

/// The three networks of an SD 1.x model.
public struct StableDiffusionModels {
    public let textEncoder: CLIPTextModel
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKL

    /// Configs of the three networks (SD 1.5's by default).
    public struct Configs: Sendable {
        public var unet = UNetConfig()
        public var vae = VAEConfig()
        public var textEncoder = CLIPTextConfig()
        public init() {}

        /// Reads `unet/`, `vae/` and `text_encoder/` config.json files from a diffusers folder.
        public init(diffusersFolder dir: String) throws {
            unet = try UNetConfig.load("\(dir)/unet/config.json")
            vae = try VAEConfig.load("\(dir)/vae/config.json")
            textEncoder = try CLIPTextConfig.load("\(dir)/text_encoder/config.json")
        }
    }

    public init(textEncoder: CLIPTextModel, unet: UNet2DConditionModel, vae: AutoencoderKL) {
        self.textEncoder = textEncoder; self.unet = unet; self.vae = vae
    }

    /// Loads a diffusers folder (`model_index.json`, `unet/`, `vae/`, `text_encoder/`, ...).
    public init(diffusersFolder dir: String) throws {
        guard FileManager.default.fileExists(atPath: "\(dir)/model_index.json") else {
            throw ModelError.layout(path: dir, message: "not a diffusers folder (no model_index.json)")
        }
        let configs = try Configs(diffusersFolder: dir)
        textEncoder = try Self.loadTextEncoder(config: configs.textEncoder, folder: "\(dir)/text_encoder")
        unet = try Self.loadUNet(config: configs.unet, folder: "\(dir)/unet")
        vae = try Self.loadVAE(config: configs.vae, folder: "\(dir)/vae")
    }

    /// Loads an original single-file SD 1.x checkpoint (`.safetensors`), with the given configs.
    public init(singleFile path: String, configs: Configs = Configs()) throws {
        let file = try SafetensorsFile(path: path)
        let levels = configs.vae.blockOutChannels.count, l = configs.unet.layersPerBlock
        func under(_ prefix: String, _ map: @escaping (String) -> String?) -> (String) -> String? {
            { $0.hasPrefix(prefix) ? map(String($0.dropFirst(prefix.count))) : nil }
        }
        let unknown = file.entries.keys.filter {
            !$0.hasPrefix(LDMKeyMap.unetPrefix) && !$0.hasPrefix(LDMKeyMap.vaePrefix) && !$0.hasPrefix(LDMKeyMap.textPrefix)
        }
        let checks: [(String, (String) -> String?)] = [
            (LDMKeyMap.unetPrefix, { LDMKeyMap.unet($0, layersPerBlock: l) }),
            (LDMKeyMap.vaePrefix, { LDMKeyMap.vae($0, levels: levels) }),
        ]
        var problems = unknown.isEmpty ? [] : ["tensors outside the UNet, VAE and text encoder: \(unknown.sorted().prefix(10).joined(separator: ", "))"]
        for (prefix, map) in checks {
            for key in file.entries.keys where key.hasPrefix(prefix) && map(String(key.dropFirst(prefix.count))) == nil {
                problems.append("unknown key '\(key)'")
            }
        }
        if !problems.isEmpty { throw ModelError.weights(source: path, problems: problems.sorted()) }
        let unetSource = SafetensorsSource(files: [file], rename: under(LDMKeyMap.unetPrefix) { LDMKeyMap.unet($0, layersPerBlock: l) })
        let vaeSource = SafetensorsSource(files: [file], rename: under(LDMKeyMap.vaePrefix) { LDMKeyMap.vae($0, levels: levels) })
        let textSource = SafetensorsSource(files: [file], rename: under(LDMKeyMap.textPrefix) { LDMKeyMap.textEncoder($0) })
        textEncoder = try Self.build(textSource, ignoring: LDMKeyMap.isTextEncoderBuffer) {
            try CLIPTextModel(config: configs.textEncoder, params: $0)
        }
        unet = try Self.build(unetSource) { try UNet2DConditionModel(config: configs.unet, params: $0) }
        vae = try Self.build(vaeSource) { try AutoencoderKL(config: configs.vae, params: $0) }
    }

    /// Builds a model from a source and checks that every tensor was used and matched.
    static func build<M>(_ source: TensorSource, ignoring: @escaping (String) -> Bool = { _ in false },
                         _ make: (Scope) throws -> M) throws -> M {
        let params = Parameters(source)
        params.ignorable = ignoring
        let model = try make(params.scope(""))
        try params.finish()
        return model
    }

    /// The weights file in a component folder: the plain name, else its `.fp16` variant.
    static func weightsFile(_ folder: String, _ base: String) throws -> String {
        for name in ["\(base).safetensors", "\(base).fp16.safetensors"] {
            let p = "\(folder)/\(name)"
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        throw ModelError.layout(path: folder, message: "no \(base).safetensors (or .fp16.safetensors) weights file")
    }

    /// Loads `unet/` of a diffusers folder.
    public static func loadUNet(config: UNetConfig, folder: String) throws -> UNet2DConditionModel {
        let source = try SafetensorsSource(path: weightsFile(folder, "diffusion_pytorch_model"))
        return try build(source) { try UNet2DConditionModel(config: config, params: $0) }
    }

    /// Loads `vae/` of a diffusers folder.
    public static func loadVAE(config: VAEConfig, folder: String) throws -> AutoencoderKL {
        let source = try SafetensorsSource(path: weightsFile(folder, "diffusion_pytorch_model"))
        return try build(source) { try AutoencoderKL(config: config, params: $0) }
    }

    /// Loads `text_encoder/` of a diffusers folder (with or without the `text_model.` key level).
    public static func loadTextEncoder(config: CLIPTextConfig, folder: String) throws -> CLIPTextModel {
        let file = try SafetensorsFile(path: weightsFile(folder, "model"))
        let source = SafetensorsSource(files: [file], rename: LDMKeyMap.textEncoder)
        return try build(source, ignoring: LDMKeyMap.isTextEncoderBuffer) { try CLIPTextModel(config: config, params: $0) }
    }
}
