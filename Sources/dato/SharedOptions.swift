import ArgumentParser
import DatoCore
import DatoDemo
import DatoModels
import DatoPipeline
import DatoSearch
import Foundation

/// Where the model is and how to read it (shared by generate, compare and search).
struct ModelLocation: ParsableArguments {
    @Option(name: [.short, .customLong("model")], help: "A diffusers folder, or an original single-file .safetensors / .ckpt checkpoint (default: the bundled demo model).")
    var model: String?

    @Option(help: "For a single-file checkpoint: a diffusers folder supplying configs, tokenizer and scheduler (its weights are not needed).")
    var config: String?

    @Option(name: .customLong("prediction-type"), help: "What the UNet predicts: epsilon or v (also v_prediction). A single file does not record it: default from --config's scheduler, else diffusers' rule (SD 1.x epsilon; SD 2.x v, except SD 2.0 base at global_step 875000). Overrides a folder's scheduler config.")
    var predictionType: PredictionType?
    @Option(help: "For a diffusers folder: load the weights files of this variant (diffusers' variant=, e.g. fp16: diffusion_pytorch_model.fp16.safetensors) where a component has them.")
    var variant: String?

    /// The model path: `--model`, or the bundled demo model's folder.
    func path() throws -> String { try model ?? DemoModel.folder() }
}

/// Which model to load and how to compute with it (shared by generate and compare).
struct ModelOptions: ParsableArguments {
    @OptionGroup var location: ModelLocation

    @Flag(help: "Use the UNet's EMA weights when a single-file checkpoint carries them.")
    var ema = false

    @OptionGroup var compute: PrecisionOptions

    @Option(name: .customLong("vae-precision"), help: "VAE compute format: fp32 or bf16 (weights and layer inputs in bf16, fp32 accumulation and norms; the image within about 40 dB of an fp32 VAE's). Default: as --precision, as diffusers' pipeline dtype and AUTOMATIC1111's half VAE do; --vae-precision fp32 keeps a bf16 UNet's VAE in fp32.")
    var vaePrecision: Precision?

    var model: String? { location.model }
    var config: String? { location.config }
    var predictionType: PredictionType? { location.predictionType }
    var variant: String? { location.variant }
    var precision: Precision { compute.precision }

    /// The model path: `--model`, or the bundled demo model's folder.
    func path() throws -> String { try location.path() }

    /// How the models compute: `--precision`, `--vae-precision` and the environment's kernel choices.
    func settings() -> ComputeSettings {
        var settings = compute.settings()
        settings.vaePrecision = vaePrecision ?? compute.precision
        return settings
    }

    /// Loads the pipeline and reports weight warnings on standard error.
    func load() throws -> StableDiffusionPipeline {
        let pipe = try StableDiffusionPipeline.load(path: try path(), configFolder: config, useEMA: ema, compute: settings(),
                                                    predictionType: predictionType, variant: variant)
        for n in pipe.models.notes { FileHandle.standardError.write("note: \(n)\n") }
        for w in pipe.models.warnings { FileHandle.standardError.write("warning: \(w)\n") }
        return pipe
    }
}

/// The prompts of a run (shared by generate and compare).
struct PromptOptions: ParsableArguments {
    @Option(name: [.short, .customLong("prompt")], help: "The prompt.")
    var prompt: String?

    @Option(name: .customLong("prompt-file"), help: "A UTF-8 text file with one prompt per line (instead of -p).")
    var promptFile: String?

    @Option(name: [.short, .customLong("negative-prompt")], help: "What the image should not show.")
    var negativePrompt = ""

    func validate() throws {
        guard (prompt == nil) != (promptFile == nil) else { throw ValidationError("give exactly one of -p/--prompt and --prompt-file") }
    }

    /// The prompt, or the non-empty lines of the prompt file.
    func prompts() throws -> [String] {
        if let prompt { return [prompt] }
        guard let promptFile else { return [] }
        guard let data = FileManager.default.contents(atPath: promptFile) else {
            throw ValidationError("cannot read prompt file '\(promptFile)'")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("prompt file '\(promptFile)' is not UTF-8 text")
        }
        let prompts = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !prompts.isEmpty else { throw ValidationError("prompt file '\(promptFile)' holds no prompt") }
        return prompts
    }
}

extension Precision: ExpressibleByArgument {}

extension SchedulerKind: ExpressibleByArgument {}

extension PlanSpace.Kind: ExpressibleByArgument {}

extension PlanSearch.Cost: ExpressibleByArgument {
    public static var allValueStrings: [String] { ["flops", "time"] }
}

extension PredictionType: ExpressibleByArgument {
    public static var allValueStrings: [String] { ["epsilon", "v"] }
}
