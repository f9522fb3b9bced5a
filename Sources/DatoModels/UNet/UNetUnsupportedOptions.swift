/// diffusers `UNet2DConditionModel` options that change the architecture or its arithmetic (SDXL's added
/// embeddings, class embeddings, other kernels, scaled resnet outputs, ...), which this engine does not
/// implement. A config that sets one to anything but diffusers' default is refused naming the field, instead
/// of being read as an SD 1.x UNet.
enum UNetUnsupportedOptions {
    struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    /// Options whose default is null.
    static let nullByDefault = [
        "class_embed_type", "addition_embed_type", "addition_time_embed_dim", "encoder_hid_dim", "encoder_hid_dim_type",
        "time_embedding_dim", "time_embedding_act_fn", "timestep_post_act", "time_cond_proj_dim", "num_class_embeds",
        "projection_class_embeddings_input_dim", "cross_attention_norm", "reverse_transformer_layers_per_block",
    ]
    /// Options whose default is false (null taken as false).
    static let falseByDefault = ["class_embeddings_concat", "dual_cross_attention", "resnet_skip_time_act",
                                 "mid_block_only_cross_attention"]

    /// The options of a decoded config that are set to something other than their default.
    static func found(in decoder: Decoder) throws -> [String] {
        let c = try decoder.container(keyedBy: Key.self)
        var found: [String] = []
        for name in nullByDefault {
            let key = Key(stringValue: name)
            if c.contains(key), try !c.decodeNil(forKey: key) { found.append(name) }
        }
        for name in falseByDefault where try c.decodeIfPresent(Bool.self, forKey: Key(stringValue: name)) == true {
            found.append(name)
        }
        for name in ["conv_in_kernel", "conv_out_kernel"] {
            if let k = try c.decodeIfPresent(Int.self, forKey: Key(stringValue: name)), k != 3 { found.append(name) }
        }
        if let f = try c.decodeIfPresent(Double.self, forKey: Key(stringValue: "resnet_out_scale_factor")), f != 1 {
            found.append("resnet_out_scale_factor")
        }
        if let t = try c.decodeIfPresent(String.self, forKey: Key(stringValue: "attention_type")), t != "default" {
            found.append("attention_type")
        }
        return found
    }
}
