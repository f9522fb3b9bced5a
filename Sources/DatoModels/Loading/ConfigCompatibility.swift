extension StableDiffusionModels.Configs {
    /// Checks that the three networks fit together, naming the field and both sides: the UNet predicts as many
    /// channels as it takes (the sampler combines its output with its input), the VAE's latents have that many
    /// channels, and the UNet attends to text states as wide as the text encoder's. `folder` names the configs'
    /// files when they came from a diffusers folder.
    public func validateTogether(folder: String? = nil) throws {
        let unetFile = folder.map { "\($0)/unet/config.json" } ?? "unet config"
        let vaeFile = folder.map { "\($0)/vae/config.json" } ?? "vae config"
        let textFile = folder.map { "\($0)/text_encoder/config.json" } ?? "text encoder config"
        guard unet.inChannels == unet.outChannels else {
            throw ModelError.config(file: unetFile, field: "in_channels",
                                    message: "\(unet.inChannels) differs from out_channels \(unet.outChannels) (inpainting and other conditioned UNets are not supported)")
        }
        guard unet.inChannels == vae.latentChannels else {
            throw ModelError.config(file: unetFile, field: "in_channels",
                                    message: "\(unet.inChannels) differs from latent_channels \(vae.latentChannels) in \(vaeFile)")
        }
        guard unet.crossAttentionDim == textEncoder.hiddenSize else {
            throw ModelError.config(file: unetFile, field: "cross_attention_dim",
                                    message: "\(unet.crossAttentionDim) differs from hidden_size \(textEncoder.hiddenSize) in \(textFile)")
        }
    }
}
