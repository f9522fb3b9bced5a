import DatoAccel

extension StableDiffusionPipeline {
    /// The acceleration plan of a request for a run of `calls` UNet calls, fitted to the request's steps and
    /// checked against this model's UNet units: the request's plan argument resolved (`PlanPresets.resolve`),
    /// its plan already made checked, or every call in full when it has neither.
    func resolvePlan(_ request: GenerationRequest, calls: Int) throws -> AccelerationPlan {
        let units = models.unet.unitCount
        switch (request.plan, request.accelerationPlan) {
        case (_?, _?):
            throw PipelineError.invalidRequest(field: "plan", message: "give a plan argument or a plan already made (accelerationPlan), not both")
        case let (text?, nil):
            return try PlanPresets.resolve(text, calls: calls, steps: request.steps, units: units)
        case let (nil, plan?):
            try plan.validate(calls: calls, steps: request.steps, units: units)
            return plan
        case (nil, nil):
            return .full(calls: calls)
        }
    }
}
