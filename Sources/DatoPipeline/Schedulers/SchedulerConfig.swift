import DatoCore
import DatoModels
import Foundation

/// diffusers' `scheduler_config.json`. Absent fields take the chosen scheduler class's own default, as
/// `Scheduler.from_config` does in diffusers.
public struct SchedulerConfig: Codable, Sendable, Equatable {
    public var className: String?
    public var numTrainTimesteps: Int?
    public var betaStart: Double?
    public var betaEnd: Double?
    public var betaSchedule: String?
    public var trainedBetas: [Double]?
    public var predictionType: String?
    public var timestepSpacing: String?
    public var stepsOffset: Int?
    public var setAlphaToOne: Bool?
    public var skipPrkSteps: Bool?
    public var clipSample: Bool?
    public var clipSampleRange: Double?
    public var thresholding: Bool?
    public var useKarrasSigmas: Bool?
    public var interpolationType: String?
    public var finalSigmasType: String?
    public var solverOrder: Int?
    public var algorithmType: String?
    public var solverType: String?
    public var lowerOrderFinal: Bool?
    public var eulerAtFinal: Bool?
    public var rescaleBetasZeroSnr: Bool?
    public var timestepType: String?
    /// The file the config was read from (not part of the config), for error messages.
    public var source: String? = nil

    enum CodingKeys: String, CodingKey {
        case className = "_class_name", numTrainTimesteps = "num_train_timesteps", betaStart = "beta_start"
        case betaEnd = "beta_end", betaSchedule = "beta_schedule", trainedBetas = "trained_betas"
        case predictionType = "prediction_type", timestepSpacing = "timestep_spacing", stepsOffset = "steps_offset"
        case setAlphaToOne = "set_alpha_to_one", skipPrkSteps = "skip_prk_steps", clipSample = "clip_sample"
        case clipSampleRange = "clip_sample_range", thresholding, useKarrasSigmas = "use_karras_sigmas"
        case interpolationType = "interpolation_type", finalSigmasType = "final_sigmas_type"
        case solverOrder = "solver_order", algorithmType = "algorithm_type", solverType = "solver_type"
        case lowerOrderFinal = "lower_order_final", eulerAtFinal = "euler_at_final"
        case rescaleBetasZeroSnr = "rescale_betas_zero_snr", timestepType = "timestep_type"
    }

    public init() {}

    /// SD 1.x's scheduler config (PNDM, scaled-linear betas 0.00085...0.012, steps_offset 1), used when a
    /// model carries none (single-file checkpoints).
    public static let sd15: SchedulerConfig = {
        var c = SchedulerConfig()
        c.className = "PNDMScheduler"
        c.numTrainTimesteps = 1000
        c.betaStart = 0.00085
        c.betaEnd = 0.012
        c.betaSchedule = "scaled_linear"
        c.setAlphaToOne = false
        c.skipPrkSteps = true
        c.stepsOffset = 1
        c.clipSample = false
        return c
    }()

    /// Loads `scheduler_config.json`, checking its values (`validate()`).
    public static func load(_ path: String) throws -> SchedulerConfig {
        let data: Data
        do {
            data = try RegularFile.read(path, limit: 16 << 20)
        } catch let e as RegularFileError {
            throw ModelError.config(file: path, field: "(file)", message: e.reason)
        }
        var config: SchedulerConfig
        do {
            // diffusers writes Python's -Infinity (lambda_min_clipped), which strict JSON refuses.
            config = try JSONDecoder().decode(SchedulerConfig.self, from: PythonJSONLiterals.replacedWithNull(data))
        } catch {
            throw ModelError.config(file: path, field: "(root)", message: "not a valid scheduler config: \(error)")
        }
        config.source = path
        do {
            try config.validate()
        } catch let e as SchedulerError {
            throw ModelError.config(file: path, field: e.field, message: e.message)
        }
        return config
    }
}

/// A scheduler setting this engine does not support, or an invalid request; `file` names the config file
/// when the setting came from one.
public struct SchedulerError: Error, CustomStringConvertible {
    public let field: String
    public let message: String
    public var file: String? = nil

    public var description: String {
        guard let file else { return "scheduler: '\(field)' \(message)" }
        return "\(file): field '\(field)': \(message)"
    }
}
