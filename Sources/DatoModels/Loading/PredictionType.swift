/// What the UNet predicts: the noise (`epsilon`, SD 1.x and SD 2.x base) or the velocity (`v_prediction`,
/// SD 2.x 768 px models). Raw values are diffusers' `prediction_type` spellings.
public enum PredictionType: String, Sendable, Equatable, CaseIterable {
    /// The UNet predicts the added noise.
    case epsilon
    /// The UNet predicts the velocity (a mix of noise and image by the noise level).
    case v = "v_prediction"

    /// Reads `epsilon`, or `v` / `v_prediction` / `v-prediction` (the CLI's and diffusers' spellings).
    public init?(argument: String) {
        switch argument.lowercased() {
        case "epsilon", "eps": self = .epsilon
        case "v", "v_prediction", "v-prediction": self = .v
        default: return nil
        }
    }
}

/// A prediction type and where it came from (shown by `dato inspect` and in errors).
public struct PredictionChoice: Sendable, Equatable {
    /// The prediction type.
    public let type: PredictionType
    /// Where it came from, in words ("--prediction-type", "diffusers' rule ...").
    public let origin: String

    /// A prediction type with its origin.
    public init(_ type: PredictionType, origin: String) {
        self.type = type
        self.origin = origin
    }

    /// The type a single file of `family` has, which the file does not record: diffusers' rule. SD 1.x predicts
    /// the noise. SD 2.x: a checkpoint at `global_step` 875000 is SD 2.0 base (epsilon), any other is taken for
    /// the 768 px v-prediction model, as diffusers' `from_single_file` (which loads every SD 2.x file with
    /// stabilityai/stable-diffusion-2-1's configs) and its converter do. SD 2.1 base and other epsilon SD 2.x
    /// files need `--prediction-type epsilon` (or `--config`), as they need diffusers' `prediction_type`.
    public static func inferred(family: ModelFamily, globalStep: Int?) -> PredictionChoice {
        switch family {
        case .sd1:
            return PredictionChoice(.epsilon, origin: "SD 1.x models predict the noise")
        case .sd2 where globalStep == 875_000:
            return PredictionChoice(.epsilon, origin: "global_step 875000 is SD 2.0 base (diffusers' rule)")
        case .sd2:
            let step = globalStep.map { "global_step \($0)" } ?? "no global_step"
            return PredictionChoice(.v, origin: "SD 2.x file with \(step): diffusers' rule takes the 768 px v-prediction model; pass --prediction-type epsilon for SD 2.x base models")
        }
    }
}
