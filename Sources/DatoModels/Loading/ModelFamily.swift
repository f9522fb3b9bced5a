/// The Stable Diffusion generation a model belongs to, as far as loading needs to tell them apart: what the
/// tensor shapes cannot say (attention heads, native size, attention upcasting, the prediction type) is
/// taken from the family's published diffusers configs.
public enum ModelFamily: String, Sendable, Equatable, CaseIterable {
    /// CLIP ViT-L/14 text encoder (768 wide), 8 heads per level, 512 px, epsilon prediction.
    case sd1 = "SD 1.x"
    /// OpenCLIP ViT-H/14 text encoder (1024 wide, penultimate layer), 64-wide heads, linear projections.
    case sd2 = "SD 2.x"

    /// The UNet key diffusers tells SD 2.x single files by (its last dimension is 1024 for SD 2.x).
    static let diffusersProbe = LDMKeyMap.unetPrefix + "input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight"

    /// The family of a single-file checkpoint: by its text encoder's layout (OpenCLIP: SD 2.x, CLIP: SD 1.x),
    /// else as diffusers does, by the width of the text states its UNet attends to (1024: SD 2.x).
    public static func of(singleFile shapes: [String: [Int]]) -> ModelFamily {
        switch TextEncoderLayout.of(shapes) {
        case .openCLIP: return .sd2
        case .clip: return .sd1
        case .none: return shapes[diffusersProbe]?.last == 1024 ? .sd2 : .sd1
        }
    }
}

/// How a single-file checkpoint stores its text encoder.
public enum TextEncoderLayout: String, Sendable, Equatable {
    /// transformers' CLIPTextModel names under `cond_stage_model.transformer.` (SD 1.x).
    case clip = "CLIP"
    /// OpenCLIP's text tower under `cond_stage_model.model.` (SD 2.x): resblocks with stacked q/k/v.
    case openCLIP = "OpenCLIP"
    /// No text encoder tensors.
    case none = "none"

    /// The layout of the text encoder in `shapes`: by the token embedding each layout has.
    public static func of(_ shapes: [String: [Int]]) -> TextEncoderLayout {
        if shapes[OpenCLIPKeyMap.prefix + "token_embedding.weight"] != nil { return .openCLIP }
        let clip = [LDMKeyMap.textPrefix + "text_model.", LDMKeyMap.textPrefix].map { $0 + "embeddings.token_embedding.weight" }
        return clip.contains { shapes[$0] != nil } ? .clip : .none
    }

    /// The key prefix of the text encoder's tensors.
    public var prefix: String { self == .openCLIP ? OpenCLIPKeyMap.prefix : LDMKeyMap.textPrefix }
}

extension ModelFamily {
    /// Sets what tensor shapes cannot tell to the family's published diffusers config (runwayml/stable-
    /// diffusion-v1-5; stabilityai/stable-diffusion-2-1, whose configs diffusers' `from_single_file` uses for
    /// every SD 2.x file): the UNet's heads (SD 1.x: 8 per level; SD 2.x: one per 64 channels, diffusers'
    /// `attention_head_dim` [5, 10, 20, 20]), `upcast_attention` (SD 2.x), and the native size of UNet and VAE
    /// (SD 1.x and epsilon SD 2.x base models: 512 px; v-prediction SD 2.x: 768 px).
    public func applyDefaults(to c: inout StableDiffusionModels.Configs, prediction: PredictionType) {
        switch self {
        case .sd1:
            c.unet.attentionHeadDim = .one(8)
            c.unet.upcastAttention = false
            c.unet.sampleSize = 64
            c.vae.sampleSize = 512
        case .sd2:
            c.unet.attentionHeadDim = .list(c.unet.blockOutChannels.map { max(1, $0 / 64) })
            c.unet.upcastAttention = true
            c.unet.sampleSize = prediction == .v ? 96 : 64
            c.vae.sampleSize = prediction == .v ? 768 : 512
        }
        c.unet.numAttentionHeads = nil
    }
}
