/// The Stable Diffusion generation a model belongs to, as far as loading needs to tell them apart: what the
/// tensor shapes cannot say (attention heads, native size, attention upcasting, the prediction type) is
/// taken from the family's published diffusers configs.
public enum ModelFamily: String, Sendable, Equatable, CaseIterable {
    /// CLIP ViT-L/14 text encoder (768 wide), 8 heads per level, 512 px, epsilon prediction.
    case sd1 = "SD 1.x"
    /// OpenCLIP ViT-H/14 text encoder (1024 wide, penultimate layer), 64-wide heads, linear projections.
    case sd2 = "SD 2.x"

    /// The family of a single-file checkpoint: OpenCLIP's text layout is SD 2.x; otherwise, as diffusers tells
    /// them apart, a UNet attending to 1024-wide text states is SD 2.x (e.g. a text encoder saved under
    /// transformers' names), anything else SD 1.x.
    public static func of(singleFile shapes: [String: [Int]]) -> ModelFamily {
        if TextEncoderLayout.of(shapes) == .openCLIP { return .sd2 }
        let p = LDMKeyMap.unetPrefix
        let key = shapes.keys.filter { $0.hasPrefix(p) && $0.hasSuffix(".attn2.to_k.weight") }.min()
        return key.flatMap { shapes[$0]?.last } == 1024 ? .sd2 : .sd1
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
    /// `attention_head_dim` [5, 10, 20, 20]), `upcast_attention` (SD 2.x), the text encoder's activation (CLIP
    /// ViT-L/14: quick GELU; OpenCLIP ViT-H/14: GELU), and the native size of UNet and VAE
    /// (SD 1.x and epsilon SD 2.x base models: 512 px; v-prediction SD 2.x: 768 px).
    public func applyDefaults(to c: inout StableDiffusionModels.Configs, prediction: PredictionType) {
        switch self {
        case .sd1:
            c.unet.attentionHeadDim = .one(8)
            c.unet.upcastAttention = false
            c.textEncoder.hiddenAct = "quick_gelu"
            c.unet.sampleSize = 64
            c.vae.sampleSize = 512
        case .sd2:
            c.unet.attentionHeadDim = .list(c.unet.blockOutChannels.map { max(1, $0 / 64) })
            c.unet.upcastAttention = true
            c.textEncoder.hiddenAct = "gelu"
            c.unet.sampleSize = prediction == .v ? 96 : 64
            c.vae.sampleSize = prediction == .v ? 768 : 512
        }
        c.unet.numAttentionHeads = nil
    }
}
