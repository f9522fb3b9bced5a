/// Range checks of a scheduler config's values, so that every schedule it produces has finite, positive noise
/// levels and every timestep it indexes lies inside the training schedule.
extension SchedulerConfig {
    /// Training steps accepted (SD: 1000; 2 is the least a schedule can interpolate between).
    public static let trainStepsRange = 2...100_000

    /// Checks the values present (absent ones take the scheduler class's valid defaults), throwing a
    /// `SchedulerError` naming the field: `num_train_timesteps` in `trainStepsRange`; `beta_start` and `beta_end`
    /// finite with 0 < beta_start <= beta_end < 1; every `trained_betas` value in (0, 1); `steps_offset` in
    /// 0..<num_train_timesteps; `clip_sample_range` finite and positive.
    public func validate() throws {
        func bad(_ field: String, _ message: String) -> SchedulerError {
            SchedulerError(field: field, message: message, file: source)
        }
        let trainSteps = numTrainTimesteps ?? 1000
        guard Self.trainStepsRange.contains(trainSteps) else {
            throw bad("num_train_timesteps", "\(trainSteps) is outside \(Self.trainStepsRange.lowerBound)...\(Self.trainStepsRange.upperBound)")
        }
        for (field, beta) in [("beta_start", betaStart), ("beta_end", betaEnd)] {
            if let beta, !(beta.isFinite && beta > 0 && beta < 1) { throw bad(field, "\(beta) must be above 0 and below 1") }
        }
        if let start = betaStart, let end = betaEnd, start > end {
            throw bad("beta_end", "\(end) is below beta_start \(start)")
        }
        if let trainedBetas {
            guard trainedBetas.count == trainSteps else {
                throw bad("trained_betas", "has \(trainedBetas.count) values for \(trainSteps) training steps")
            }
            if let i = trainedBetas.firstIndex(where: { !($0.isFinite && $0 > 0 && $0 < 1) }) {
                throw bad("trained_betas", "value \(i) (\(trainedBetas[i])) must be above 0 and below 1")
            }
        }
        if let offset = stepsOffset, !(0..<trainSteps).contains(offset) {
            throw bad("steps_offset", "\(offset) is outside 0..<\(trainSteps) (num_train_timesteps)")
        }
        if let range = clipSampleRange, !(range.isFinite && range > 0) {
            throw bad("clip_sample_range", "\(range) must be a positive number")
        }
    }
}
