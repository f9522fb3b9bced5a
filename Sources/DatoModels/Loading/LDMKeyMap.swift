/// The one table that maps original single-file (ldm) checkpoint names to diffusers names.
///
/// Described in docs/methods/unet-layout.md, "Single-file names" (checked against diffusers' `convert_ldm_*` functions
/// by tools/fixtures/make_fixtures.py, which round-trips a model through diffusers' own converter).
public enum LDMKeyMap {
    /// Top-level prefixes of the three networks in a single-file checkpoint.
    public static let unetPrefix = "model.diffusion_model."
    public static let vaePrefix = "first_stage_model."
    public static let textPrefix = "cond_stage_model.transformer."

    /// Largest block or layer index accepted in a key (SD-family checkpoints use a few dozen).
    public static let maxBlockIndex = 10_000

    /// A block index in a key: decimal digits only (no sign), at most `maxBlockIndex`; nil otherwise.
    public static func blockIndex(_ text: some StringProtocol) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let i = Int(text), i <= maxBlockIndex else { return nil }
        return i
    }

    static let resnetParts: [String: String] = [
        "in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj",
        "out_layers.0": "norm2", "out_layers.3": "conv2", "skip_connection": "conv_shortcut",
    ]

    /// Renames an ldm UNet key (without the `model.diffusion_model.` prefix); nil if it is not a UNet key
    /// (or `layersPerBlock` is outside 0...`maxBlockIndex`).
    public static func unet(_ key: String, layersPerBlock l: Int) -> String? {
        guard l >= 0, l <= maxBlockIndex else { return nil }
        let fixed: [(String, String)] = [
            ("time_embed.0.", "time_embedding.linear_1."), ("time_embed.2.", "time_embedding.linear_2."),
            ("input_blocks.0.0.", "conv_in."), ("out.0.", "conv_norm_out."), ("out.2.", "conv_out."),
        ]
        for (from, to) in fixed where key.hasPrefix(from) { return to + key.dropFirst(from.count) }
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3 else { return nil }
        let per = l + 1
        switch parts[0] {
        case "input_blocks":
            guard let k = blockIndex(parts[1]), k > 0, let layer = blockIndex(parts[2]) else { return nil }
            let rest = parts[3...].joined(separator: ".")
            if k % per == 0 {
                guard layer == 0, rest.hasPrefix("op.") else { return nil }
                return "down_blocks.\(k / per - 1).downsamplers.0.conv." + rest.dropFirst(3)
            }
            let i = (k - 1) / per, j = (k - 1) % per
            return layer == 0 ? resnet("down_blocks.\(i).resnets.\(j)", rest)
                : layer == 1 ? "down_blocks.\(i).attentions.\(j).\(rest)" : nil
        case "middle_block":
            guard let layer = blockIndex(parts[1]) else { return nil }
            let rest = parts[2...].joined(separator: ".")
            switch layer {
            case 0: return resnet("mid_block.resnets.0", rest)
            case 1: return "mid_block.attentions.0.\(rest)"
            case 2: return resnet("mid_block.resnets.1", rest)
            default: return nil
            }
        case "output_blocks":
            guard let k = blockIndex(parts[1]), let layer = blockIndex(parts[2]) else { return nil }
            let rest = parts[3...].joined(separator: ".")
            let i = k / per, j = k % per
            if layer == 0 { return resnet("up_blocks.\(i).resnets.\(j)", rest) }
            // The upsampler sits in slot 1 of blocks without attention, slot 2 of those with it.
            if rest.hasPrefix("conv.") { return "up_blocks.\(i).upsamplers.0.\(rest)" }
            return layer == 1 ? "up_blocks.\(i).attentions.\(j).\(rest)" : nil
        default:
            return nil
        }
    }

    private static func resnet(_ base: String, _ rest: String) -> String? {
        for (from, to) in resnetParts where rest.hasPrefix(from + ".") {
            return "\(base).\(to).\(rest.dropFirst(from.count + 1))"
        }
        return nil
    }

    /// Renames an ldm VAE key (without `first_stage_model.`); `levels` is the number of resolution levels.
    /// Nil if it is not a VAE key.
    public static func vae(_ key: String, levels: Int) -> String? {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2 else { return nil }
        if ["quant_conv", "post_quant_conv"].contains(parts[0]) { return key }
        guard ["encoder", "decoder"].contains(parts[0]) else { return nil }
        let side = parts[0]
        let rest = parts[1...].joined(separator: ".")
        func resnetName(_ s: String) -> String { s.replacingOccurrences(of: "nin_shortcut", with: "conv_shortcut") }
        if rest.hasPrefix("conv_in.") || rest.hasPrefix("conv_out.") { return key }
        if rest.hasPrefix("norm_out.") { return "\(side).conv_norm_out.\(rest.dropFirst("norm_out.".count))" }
        if parts[1] == "mid", parts.count >= 4 {
            let tail = parts[3...].joined(separator: ".")
            switch parts[2] {
            case "block_1": return "\(side).mid_block.resnets.0.\(resnetName(tail))"
            case "block_2": return "\(side).mid_block.resnets.1.\(resnetName(tail))"
            case "attn_1":
                let names = ["norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"]
                guard let m = names[parts[3]], parts.count == 5 else { return nil }
                return "\(side).mid_block.attentions.0.\(m).\(parts[4])"
            default: return nil
            }
        }
        guard ["down", "up"].contains(parts[1]), parts.count >= 5, let level = blockIndex(parts[2]) else { return nil }
        let blocks = parts[1] == "down" ? "down_blocks.\(level)" : "up_blocks.\(levels - 1 - level)"
        let tail = parts[4...].joined(separator: ".")
        switch parts[3] {
        case "block":
            guard parts.count >= 6, let j = blockIndex(parts[4]) else { return nil }
            return "\(side).\(blocks).resnets.\(j).\(resnetName(parts[5...].joined(separator: ".")))"
        case "downsample": return "\(side).\(blocks).downsamplers.0.\(tail)"
        case "upsample": return "\(side).\(blocks).upsamplers.0.\(tail)"
        default: return nil
        }
    }

    /// Renames a text-encoder key (without `cond_stage_model.transformer.`): drops the optional
    /// `text_model.` level that older transformers versions saved.
    public static func textEncoder(_ key: String) -> String {
        key.hasPrefix("text_model.") ? String(key.dropFirst("text_model.".count)) : key
    }

    /// Text-encoder buffers that are not weights.
    public static func isTextEncoderBuffer(_ diffusersKey: String) -> Bool {
        diffusersKey == "embeddings.position_ids"
    }
}
