import DatoModels
import DatoPipeline
import Foundation

/// `dato inspect DIR`: a diffusers folder as swift-dato would load it: family, configs, the weights file each
/// component loads (form, shards, variant), the tokenizer's form and padding, the scheduler and its prediction
/// type; or the refusal, for a model of another architecture.
enum FolderInspection {
    static func run(_ dir: String, variant: String?, predictionType: PredictionType?) throws {
        do {
            try UnsupportedArchitecture.check(folder: dir)
        } catch {
            print("architecture: \(error)")
            return
        }
        let configs = try StableDiffusionModels.Configs(diffusersFolder: dir)
        try configs.validateTogether(folder: dir)
        let u = configs.unet, v = configs.vae, t = configs.textEncoder
        // SD 2.x's OpenCLIP text encoder: 1024-wide text states and GELU (SD 1.x's CLIP: 768 wide, quick GELU).
        let sd2 = u.crossAttentionDim == 1024 || t.hiddenAct == "gelu"
        print("layout: diffusers folder, \(sd2 ? "SD 2.x" : "SD 1.x") architecture (\(u.crossAttentionDim)-wide text states, \(t.hiddenAct) text encoder)")
        print("UNet: block_out_channels \(u.blockOutChannels), layers_per_block \(u.layersPerBlock), heads \(u.headsPerBlock), \(u.useLinearProjection ? "linear" : "conv") projections, upcast_attention \(u.upcastAttention), native size \((u.sampleSize ?? 64) * v.scaleFactor) px")
        print("VAE: block_out_channels \(v.blockOutChannels), latent_channels \(v.latentChannels), scaling_factor \(v.scalingFactor)")
        print("text encoder: \(t.numHiddenLayers) layers, hidden \(t.hiddenSize), \(t.hiddenAct), vocabulary \(t.vocabSize)")
        let parts: [(String, WeightsNaming)] = [("unet", .diffusers), ("vae", .diffusers), ("text_encoder", .transformers)]
        for (part, naming) in parts {
            let weights = try ComponentWeights.find(in: "\(dir)/\(part)", naming: naming, variant: variant)
            let shards = weights.isSharded ? " (\(try weights.files().count - 1) shards)" : ""
            print("\(part) weights: \(weights.fileName)\(shards)\(weights.note.map { "; \($0)" } ?? "")\(weights.warning.map { "; warning: \($0)" } ?? "")")
        }
        let tokenizerFolder = "\(dir)/tokenizer"
        let tokenizer = try CLIPTokenizer(folder: tokenizerFolder)
        let pad = tokenizer.padId == tokenizer.eosId ? "end-of-text" : "id \(tokenizer.padId)"
        print("tokenizer: \(CLIPTokenizer.files(in: tokenizerFolder).joined(separator: " + ")); pads with \(pad), \(tokenizer.maxLength) positions")
        let schedulerPath = "\(dir)/scheduler/scheduler_config.json"
        if FileManager.default.fileExists(atPath: schedulerPath) {
            let s = try SchedulerConfig.load(schedulerPath)
            print("scheduler: \(s.className ?? "no _class_name"), prediction type \(s.predictionType ?? "epsilon")")
        } else {
            print("scheduler: no scheduler_config.json (SD 1.5's PNDM config is used, predicting epsilon)")
        }
        if let predictionType { print("prediction type: \(predictionType.rawValue) (--prediction-type overrides the scheduler config)") }
    }
}
