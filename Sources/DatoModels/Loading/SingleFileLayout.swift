/// How the tensors of an original single-file SD 1.x/2.x checkpoint divide up: the three networks, tensors
/// that are recognised and skipped, and unknown ones (reported as warnings). The text encoder is either
/// CLIP's (`cond_stage_model.transformer.`, SD 1.x) or OpenCLIP's (`cond_stage_model.model.`, SD 2.x),
/// whose `text_projection`, `logit_scale` and `attn_mask` are recognised and skipped.
public struct SingleFileLayout: Sendable {
    /// DDPM schedule buffers that training checkpoints carry.
    public static let scheduleBuffers: Set<String> = [
        "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
        "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
        "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2", "logvar",
    ]
    public static let emaPrefix = "model_ema."

    public var unet: [String] = [], vae: [String] = [], textEncoder: [String] = []
    /// Recognised and not loaded: schedule buffers, position ids, EMA copies (unless used), EMA bookkeeping.
    public var ignored: [String] = []
    /// EMA copies of UNet weights (`model_ema.diffusion_model...`).
    public var ema: [String] = []
    /// Neither a network tensor nor a known extra.
    public var unknown: [String] = []

    public init(names: some Sequence<String>) {
        for name in names {
            if name.hasPrefix(LDMKeyMap.unetPrefix) {
                unet.append(name)
            } else if name.hasPrefix(LDMKeyMap.vaePrefix) {
                vae.append(name)
            } else if name.hasPrefix(LDMKeyMap.textPrefix) {
                if LDMKeyMap.isTextEncoderBuffer(LDMKeyMap.textEncoder(String(name.dropFirst(LDMKeyMap.textPrefix.count)))) {
                    ignored.append(name)
                } else {
                    textEncoder.append(name)
                }
            } else if name.hasPrefix(OpenCLIPKeyMap.prefix) {
                if OpenCLIPKeyMap.unused.contains(String(name.dropFirst(OpenCLIPKeyMap.prefix.count))) {
                    ignored.append(name)
                } else {
                    textEncoder.append(name)
                }
            } else if name.hasPrefix(Self.emaPrefix + "diffusion_model") {
                ema.append(name)
            } else if name.hasPrefix(Self.emaPrefix) || Self.scheduleBuffers.contains(name) {
                ignored.append(name)
            } else {
                unknown.append(name)
            }
        }
    }

    /// The EMA name of a UNet tensor: ldm's EMA module drops the dots, `model_ema.diffusion_model` + name.
    public static func emaName(ofUNetKey key: String) -> String {
        emaPrefix + "diffusion_model" + key.dropFirst(LDMKeyMap.unetPrefix.count).replacingOccurrences(of: ".", with: "")
    }
}
