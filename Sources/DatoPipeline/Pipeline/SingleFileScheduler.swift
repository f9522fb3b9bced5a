import DatoModels

/// The scheduler config of a model loaded from a single file, which records none: the family's published
/// one (diffusers' `from_single_file` without `config`), with the prediction type made explicit.
enum SingleFileScheduler {
    /// stabilityai/stable-diffusion-2-1's scheduler config (DDIM, scaled-linear betas 0.00085...0.012,
    /// steps_offset 1), which diffusers gives every SD 2.x single file.
    static let sd21: SchedulerConfig = {
        var c = SchedulerConfig.sd15
        c.className = "DDIMScheduler"
        c.predictionType = PredictionType.v.rawValue
        return c
    }()

    /// The config for a single file described by `description` without a `--config` folder: SD 1.x's or
    /// SD 2.1's, predicting what `description` says.
    static func config(for description: SingleFileDescription?) -> SchedulerConfig {
        var c = description?.family == .sd2 ? sd21 : .sd15
        c.predictionType = (description?.prediction.type ?? .epsilon).rawValue
        return c
    }

    /// `config` with the prediction type `flag` (`--prediction-type`) when given: it overrides a folder's too.
    static func overriding(_ config: SchedulerConfig, with flag: PredictionType?) -> SchedulerConfig {
        guard let flag else { return config }
        var c = config
        c.predictionType = flag.rawValue
        return c
    }
}
